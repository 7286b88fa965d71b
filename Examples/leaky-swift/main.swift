// A Swift service whose session store keeps a record for every request: SessionStore.remember(id:) leaks.
// Usage: leaky-swift [seconds=20]
import Foundation

final class SessionRecord {
    let id: Int
    var payload: (Int, Int, Int, Int, Int, Int, Int, Int) = (0, 0, 0, 0, 0, 0, 0, 0)
    init(id: Int) { self.id = id }
}

final class SessionStore {
    private var records: [SessionRecord] = []

    @inline(never)
    func remember(id: Int) {
        records.append(SessionRecord(id: id))  // never trimmed: the leak
    }

    var count: Int { records.count }
}

@inline(never)
func renderResponse(id: Int) -> Int {
    let parts = (0..<8).map { String(repeating: "x", count: 40 + ($0 + id) % 7) }  // freed: the control
    return parts.reduce(0) { $0 + $1.utf8.count }
}

let seconds = CommandLine.arguments.count > 1 ? Double(CommandLine.arguments[1]) ?? 20 : 20
let store = SessionStore()
let start = Date()
var id = 0
var bytes = 0
while seconds == 0 || Date().timeIntervalSince(start) < seconds {
    for _ in 0..<10 {
        bytes += renderResponse(id: id)
        if id % 5 == 0 { store.remember(id: id) }
        id += 1
    }
    usleep(10_000)
}
print("leaky-swift: \(id) requests, \(store.count) records, \(bytes) bytes")
