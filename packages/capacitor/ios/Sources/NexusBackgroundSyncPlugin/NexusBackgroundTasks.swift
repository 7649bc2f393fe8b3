import BackgroundTasks
import Foundation

/// BGTaskScheduler side of BRIDGE.md, shared by the plugin and the AppDelegate. Thin: TypeScript
/// decides success, retry (with its delay and attempt) or failure; this submits requests and calls
/// setTaskCompleted. Not compiled in this repository's CI (see README).
public final class NexusBackgroundTasks {
    public static let shared = NexusBackgroundTasks()

    /// The plugin of a live web view, set by the plugin's load().
    weak var plugin: NexusBackgroundSyncPlugin?

    private let defaults = UserDefaults.standard
    private let lock = NSLock()
    private var running: [String: (task: BGTask, taskId: String)] = [:]
    private static let expirationGrace: TimeInterval = 5

    struct Schedule: Codable {
        var taskId: String
        var intervalMs: Double
        var charging: Bool
    }

    /// Call in application(_:didFinishLaunchingWithOptions:) before it returns, once per identifier
    /// listed in Info.plist BGTaskSchedulerPermittedIdentifiers.
    public func register(taskId: String = "nexus-store.sync") {
        BGTaskScheduler.shared.register(forTaskWithIdentifier: taskId, using: nil) { [weak self] task in
            self?.handle(task, taskId: taskId, kind: "appRefresh")
        }
        BGTaskScheduler.shared.register(forTaskWithIdentifier: taskId + ".processing", using: nil) { [weak self] task in
            self?.handle(task, taskId: taskId, kind: "processing")
        }
    }

    // MARK: BRIDGE.md messages

    func schedule(taskId: String, intervalMs: Double, initialDelayMs: Double, charging: Bool, attempt: Int) throws {
        let schedule = Schedule(taskId: taskId, intervalMs: intervalMs, charging: charging)
        defaults.set(try JSONEncoder().encode(schedule), forKey: "nexus-store.schedule.\(taskId)")
        try submit(schedule, delayMs: initialDelayMs, attempt: attempt)
    }

    func cancel(taskId: String) {
        defaults.removeObject(forKey: "nexus-store.schedule.\(taskId)")
        BGTaskScheduler.shared.cancel(taskRequestWithIdentifier: taskId)
        BGTaskScheduler.shared.cancel(taskRequestWithIdentifier: taskId + ".processing")
    }

    func complete(runId: String, result: String, retryAfterMs: Double, attempt: Int) {
        finish(runId: runId, result: result, retryAfterMs: retryAfterMs, attempt: attempt)
    }

    // MARK: Runs

    private func loadSchedule(_ taskId: String) -> Schedule? {
        guard let data = defaults.data(forKey: "nexus-store.schedule.\(taskId)") else { return nil }
        return try? JSONDecoder().decode(Schedule.self, from: data)
    }

    /// One pending request per identifier: submitting replaces the previous one.
    private func submit(_ schedule: Schedule, delayMs: Double, attempt: Int) throws {
        let request: BGTaskRequest
        if schedule.charging {
            let processing = BGProcessingTaskRequest(identifier: schedule.taskId + ".processing")
            processing.requiresExternalPower = true
            processing.requiresNetworkConnectivity = true
            BGTaskScheduler.shared.cancel(taskRequestWithIdentifier: schedule.taskId)
            request = processing
        } else {
            BGTaskScheduler.shared.cancel(taskRequestWithIdentifier: schedule.taskId + ".processing")
            request = BGAppRefreshTaskRequest(identifier: schedule.taskId)
        }
        request.earliestBeginDate = Date(timeIntervalSinceNow: delayMs / 1000)
        defaults.set(attempt, forKey: "nexus-store.attempt.\(schedule.taskId)")
        try BGTaskScheduler.shared.submit(request)
    }

    private func handle(_ task: BGTask, taskId: String, kind: String) {
        let runId = UUID().uuidString
        let attempt = defaults.integer(forKey: "nexus-store.attempt.\(taskId)")
        lock.lock(); running[runId] = (task, taskId); lock.unlock()

        task.expirationHandler = { [weak self] in
            guard let self else { return }
            self.plugin?.emitExpire(runId: runId, taskId: taskId)
            // TypeScript answers 'retry' after aborting; if it cannot, end the task before iOS kills the app.
            DispatchQueue.main.asyncAfter(deadline: .now() + Self.expirationGrace) {
                self.finish(runId: runId, result: "failure", retryAfterMs: 0, attempt: 0)
            }
        }

        if let plugin, plugin.hasWebView {
            plugin.emitRun(runId: runId, taskId: taskId, kind: kind, attempt: attempt)
        } else {
            NexusPushReplay.replay(runId: runId, kind: kind) { [weak self] result in
                self?.finish(runId: runId, result: result, retryAfterMs: 15 * 60_000, attempt: attempt + 1)
            }
        }
    }

    private func finish(runId: String, result: String, retryAfterMs: Double, attempt: Int) {
        lock.lock(); let entry = running.removeValue(forKey: runId); lock.unlock()
        guard let entry else { return } // already completed (a late answer or the grace timer)
        if let schedule = loadSchedule(entry.taskId) {
            let retry = result == "retry"
            try? submit(schedule, delayMs: retry ? retryAfterMs : schedule.intervalMs, attempt: retry ? attempt : 0)
        }
        entry.task.setTaskCompleted(success: result == "success")
    }
}
