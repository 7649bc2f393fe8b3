import Foundation

/// Without JavaScript: POST the stored push request as TypeScript wrote it (push is idempotent),
/// and keep a record for `takeNativeRuns` on the next launch.
enum NexusPushReplay {
    private static let snapshotKey = "nexus-store.pushSnapshot"
    private static let runsKey = "nexus-store.nativeRuns"

    static func setSnapshot(_ json: Data?) {
        if let json { UserDefaults.standard.set(json, forKey: snapshotKey) } else { UserDefaults.standard.removeObject(forKey: snapshotKey) }
    }

    static func takeRuns() -> [[String: Any]] {
        let runs = UserDefaults.standard.array(forKey: runsKey) as? [[String: Any]] ?? []
        UserDefaults.standard.removeObject(forKey: runsKey)
        return runs
    }

    private static func record(_ run: [String: Any]) {
        var runs = UserDefaults.standard.array(forKey: runsKey) as? [[String: Any]] ?? []
        runs.append(run)
        UserDefaults.standard.set(Array(runs.suffix(20)), forKey: runsKey)
    }

    static func replay(runId: String, kind: String, completion: @escaping (String) -> Void) {
        let startedAt = Date().timeIntervalSince1970 * 1000
        func done(_ result: String, _ status: Int?, _ count: Int) {
            record([
                "runId": runId, "kind": kind, "startedAt": startedAt, "finishedAt": Date().timeIntervalSince1970 * 1000,
                "result": result, "httpStatus": status ?? NSNull(), "mutationCount": count,
            ])
            completion(result)
        }
        guard
            let data = UserDefaults.standard.data(forKey: snapshotKey),
            let snapshot = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
            let body = snapshot["body"] as? [String: Any],
            let urlString = snapshot["url"] as? String, let url = URL(string: urlString)
        else { return done("success", nil, 0) }
        let count = (body["mutations"] as? [Any])?.count ?? 0
        if count == 0 { return done("success", nil, 0) }
        var request = URLRequest(url: url, timeoutInterval: 20)
        request.httpMethod = "POST"
        for (name, value) in snapshot["headers"] as? [String: String] ?? [:] { request.setValue(value, forHTTPHeaderField: name) }
        request.httpBody = try? JSONSerialization.data(withJSONObject: body)
        URLSession.shared.dataTask(with: request) { _, response, _ in
            guard let status = (response as? HTTPURLResponse)?.statusCode else { return done("retry", nil, count) }
            switch status {
            case 200..<300: done("success", status, count)
            case 400..<500: done("failure", status, count)
            default: done("retry", status, count)
            }
        }.resume()
    }
}
