import Foundation

#if canImport(Glibc)
    import Glibc
#endif

extension Process {
    /// Starts the process with no signal blocked. Tests run on threads of the concurrency pool,
    /// which block most signals, and a child inherits its parent's mask: a program started from
    /// there would never see SIGTERM (a multiprocessing pool's workers then outlive their pool).
    public func runWithSignalsUnblocked() throws {
        var none = sigset_t(), old = sigset_t()
        sigemptyset(&none)
        pthread_sigmask(SIG_SETMASK, &none, &old)
        defer { pthread_sigmask(SIG_SETMASK, &old, nil) }
        try run()
    }
}
