/* A plugin loaded with dlopen whose request handler leaks a cache entry per request. */
#ifndef LEAKY_PLUGIN_H
#define LEAKY_PLUGIN_H
int plugin_handle_request(int id);
void *plugin_remember_request(int id);
#endif
