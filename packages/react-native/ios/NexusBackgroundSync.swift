import BackgroundTasks
import Foundation
import React

/// `NativeModules.NexusBackgroundSync` on iOS: the React Native side of BRIDGE.md. Thin: TypeScript
/// decides success, retry or failure. Not compiled in this repository's CI (see README).
@objc(NexusBackgroundSync)
class NexusBackgroundSync: RCTEventEmitter {
    private var hasListeners = false
    private var buffered: [(String, [String: Any])] = []

    override init() {
        super.init()
        NexusBackgroundTasks.shared.module = self
    }

    override static func requiresMainQueueSetup() -> Bool { false }

    override func supportedEvents() -> [String]! { ["NexusBackgroundSync.run", "NexusBackgroundSync.expire"] }

    override func startObserving() {
        hasListeners = true
        let pending = buffered
        buffered.removeAll()
        for (name, body) in pending { sendEvent(withName: name, body: body) }
    }

    override func stopObserving() { hasListeners = false }

    /// Runs that fire before JavaScript subscribes (background launch) are delivered when it does.
    func emit(_ name: String, _ body: [String: Any]) {
        if hasListeners { sendEvent(withName: name, body: body) } else { buffered.append((name, body)) }
    }

    @objc func schedule(_ request: NSDictionary, resolve: RCTPromiseResolveBlock, reject: RCTPromiseRejectBlock) {
        let constraints = request["constraints"] as? [String: Any] ?? [:]
        do {
            try NexusBackgroundTasks.shared.schedule(
                taskId: request["taskId"] as? String ?? "nexus-store.sync",
                intervalMs: request["intervalMs"] as? Double ?? 900_000,
                initialDelayMs: request["initialDelayMs"] as? Double ?? 0,
                charging: constraints["charging"] as? Bool ?? false,
                attempt: request["attempt"] as? Int ?? 0
            )
            resolve(nil)
        } catch {
            reject("SCHEDULE_FAILED", "BGTaskScheduler refused the request: \(error.localizedDescription). Check BGTaskSchedulerPermittedIdentifiers and UIBackgroundModes.", error)
        }
    }

    @objc func cancel(_ taskId: String, resolve: RCTPromiseResolveBlock, reject: RCTPromiseRejectBlock) {
        NexusBackgroundTasks.shared.cancel(taskId: taskId)
        resolve(nil)
    }

    @objc func runNow(_ request: NSDictionary, resolve: RCTPromiseResolveBlock, reject: RCTPromiseRejectBlock) {
        reject("UNSUPPORTED", "iOS cannot start background work on demand; BGTaskSchedulerService runs it in the foreground.", nil)
    }

    @objc func complete(_ runId: String, result: NSDictionary, resolve: RCTPromiseResolveBlock, reject: RCTPromiseRejectBlock) {
        NexusBackgroundTasks.shared.complete(
            runId: runId,
            result: result["result"] as? String ?? "failure",
            retryAfterMs: result["retryAfterMs"] as? Double ?? 0,
            attempt: result["attempt"] as? Int ?? 0
        )
        resolve(nil)
    }

    @objc func setPushSnapshot(_ json: String?, resolve: RCTPromiseResolveBlock, reject: RCTPromiseRejectBlock) {
        if let json { UserDefaults.standard.set(json, forKey: "nexus-store.pushSnapshot") } else { UserDefaults.standard.removeObject(forKey: "nexus-store.pushSnapshot") }
        resolve(nil)
    }

    @objc func takeNativeRuns(_ resolve: RCTPromiseResolveBlock, reject: RCTPromiseRejectBlock) {
        // React Native relaunches JavaScript for background tasks: there are no native-only runs.
        resolve([])
    }
}

/// BGTaskScheduler registration and runs, shared with the AppDelegate.
public final class NexusBackgroundTasks: NSObject {
    @objc public static let shared = NexusBackgroundTasks()
    weak var module: NexusBackgroundSync?

    private let defaults = UserDefaults.standard
    private let lock = NSLock()
    private var running: [String: (task: BGTask, taskId: String)] = [:]

    struct Schedule: Codable {
        var taskId: String
        var intervalMs: Double
        var charging: Bool
    }

    /// Call in application(_:didFinishLaunchingWithOptions:) before it returns.
    @objc public func register(taskId: String = "nexus-store.sync") {
        BGTaskScheduler.shared.register(forTaskWithIdentifier: taskId, using: nil) { [weak self] task in self?.handle(task, taskId: taskId, kind: "appRefresh") }
        BGTaskScheduler.shared.register(forTaskWithIdentifier: taskId + ".processing", using: nil) { [weak self] task in self?.handle(task, taskId: taskId, kind: "processing") }
    }

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
            self?.module?.emit("NexusBackgroundSync.expire", ["runId": runId, "taskId": taskId])
            DispatchQueue.main.asyncAfter(deadline: .now() + 5) {
                self?.finish(runId: runId, result: "failure", retryAfterMs: 0, attempt: 0)
            }
        }
        guard let module else {
            // JavaScript never loaded the module in time: try again later.
            return finish(runId: runId, result: "failure", retryAfterMs: 0, attempt: 0)
        }
        module.emit("NexusBackgroundSync.run", ["runId": runId, "taskId": taskId, "kind": kind, "attempt": attempt])
    }

    private func finish(runId: String, result: String, retryAfterMs: Double, attempt: Int) {
        lock.lock(); let entry = running.removeValue(forKey: runId); lock.unlock()
        guard let entry else { return }
        if let data = defaults.data(forKey: "nexus-store.schedule.\(entry.taskId)"), let schedule = try? JSONDecoder().decode(Schedule.self, from: data) {
            let retry = result == "retry"
            try? submit(schedule, delayMs: retry ? retryAfterMs : schedule.intervalMs, attempt: retry ? attempt : 0)
        }
        entry.task.setTaskCompleted(success: result == "success")
    }
}
