// go-service is an HTTP service whose memory only Go's own heap profiler can see: Go allocates
// from its own heap, never through malloc. It serves net/http/pprof on 127.0.0.1 (port chosen by
// the kernel, printed on stdout) and handles simulated logins at a fixed rate: each creates a
// session that is dropped after the request, except that every fifth one is also copied into a
// global map by rememberSession and never removed (the leak). With -steady, no session is kept.
package main

import (
	"flag"
	"fmt"
	"net"
	"net/http"
	_ "net/http/pprof"
	"os"
	"strconv"
	"sync"
	"time"
)

// sessionBytes is the size of each session's payload, and of each remembered copy.
const sessionBytes = 16 << 10

type session struct {
	id      int
	user    string
	payload []byte
}

var (
	rememberedMu sync.Mutex
	remembered   = map[int][]byte{}
)

// newSession builds the per-request state that is garbage once the request is handled.
//
//go:noinline
func newSession(id int) *session {
	s := &session{id: id, user: "user-" + strconv.Itoa(id), payload: make([]byte, sessionBytes)}
	for i := range s.payload {
		s.payload[i] = byte(id + i)
	}
	return s
}

// rememberSession keeps a copy of the session's payload "for auditing" and never forgets it.
//
//go:noinline
func rememberSession(s *session) {
	record := make([]byte, len(s.payload))
	copy(record, s.payload)
	rememberedMu.Lock()
	remembered[s.id] = record
	rememberedMu.Unlock()
}

// login handles one simulated request.
//
//go:noinline
func login(id int, steady bool) int {
	s := newSession(id)
	if !steady && id%5 == 0 {
		rememberSession(s)
	}
	return len(s.user)
}

func main() {
	steady := flag.Bool("steady", false, "keep no session: the control with no leak")
	rate := flag.Int("rate", 1000, "simulated logins per second")
	duration := flag.Duration("duration", 2*time.Minute, "exit after this long")
	addr := flag.String("addr", "127.0.0.1:0", "where to serve net/http/pprof (port 0: any free one)")
	flag.Parse()

	http.HandleFunc("/login", func(w http.ResponseWriter, r *http.Request) {
		id, _ := strconv.Atoi(r.URL.Query().Get("id"))
		fmt.Fprintln(w, login(id, *steady))
	})
	listener, err := net.Listen("tcp", *addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "go-service:", err)
		os.Exit(1)
	}
	fmt.Println(listener.Addr().(*net.TCPAddr).Port)
	go func() {
		if err := http.Serve(listener, nil); err != nil {
			fmt.Fprintln(os.Stderr, "go-service:", err)
			os.Exit(1)
		}
	}()

	// Simulated traffic: each 10 ms tick handles its share of the rate.
	const tick = 10 * time.Millisecond
	perTick := *rate * int(tick) / int(time.Second)
	deadline := time.Now().Add(*duration)
	id := 0
	for time.Now().Before(deadline) {
		for i := 0; i < perTick; i++ {
			id++
			login(id, *steady)
		}
		time.Sleep(tick)
	}
}
