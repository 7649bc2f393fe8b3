import Capacitor
import Foundation

/// The Capacitor side of BRIDGE.md on iOS. Thin: every decision is made in TypeScript.
@objc(NexusBackgroundSyncPlugin)
public class NexusBackgroundSyncPlugin: CAPPlugin, CAPBridgedPlugin {
    public let identifier = "NexusBackgroundSyncPlugin"
    public let jsName = "NexusBackgroundSync"
    public let pluginMethods: [CAPPluginMethod] = [
        CAPPluginMethod(name: "schedule", returnType: CAPPluginReturnPromise),
        CAPPluginMethod(name: "cancel", returnType: CAPPluginReturnPromise),
        CAPPluginMethod(name: "runNow", returnType: CAPPluginReturnPromise),
        CAPPluginMethod(name: "complete", returnType: CAPPluginReturnPromise),
        CAPPluginMethod(name: "setPushSnapshot", returnType: CAPPluginReturnPromise),
        CAPPluginMethod(name: "takeNativeRuns", returnType: CAPPluginReturnPromise),
    ]

    var hasWebView: Bool { bridge?.webView != nil }

    override public func load() {
        NexusBackgroundTasks.shared.plugin = self
    }

    @objc func schedule(_ call: CAPPluginCall) {
        guard let taskId = call.getString("taskId") else { return call.reject("taskId is required", "INVALID_ARGUMENT") }
        let constraints = call.getObject("constraints") ?? [:]
        do {
            try NexusBackgroundTasks.shared.schedule(
                taskId: taskId,
                intervalMs: call.getDouble("intervalMs") ?? 900_000,
                initialDelayMs: call.getDouble("initialDelayMs") ?? 0,
                charging: constraints["charging"] as? Bool ?? false,
                attempt: call.getInt("attempt") ?? 0
            )
            call.resolve()
        } catch {
            // BGTaskSchedulerErrorCodeNotPermitted: the identifier is missing from Info.plist.
            call.reject("BGTaskScheduler refused the request: \(error.localizedDescription). Check BGTaskSchedulerPermittedIdentifiers and UIBackgroundModes.", "SCHEDULE_FAILED", error)
        }
    }

    @objc func cancel(_ call: CAPPluginCall) {
        guard let taskId = call.getString("taskId") else { return call.reject("taskId is required", "INVALID_ARGUMENT") }
        NexusBackgroundTasks.shared.cancel(taskId: taskId)
        call.resolve()
    }

    @objc func runNow(_ call: CAPPluginCall) {
        call.reject("iOS cannot start background work on demand; BGTaskSchedulerService runs it in the foreground.", "UNSUPPORTED")
    }

    @objc func complete(_ call: CAPPluginCall) {
        guard let runId = call.getString("runId") else { return call.reject("runId is required", "INVALID_ARGUMENT") }
        NexusBackgroundTasks.shared.complete(
            runId: runId,
            result: call.getString("result") ?? "failure",
            retryAfterMs: call.getDouble("retryAfterMs") ?? 0,
            attempt: call.getInt("attempt") ?? 0
        )
        call.resolve()
    }

    @objc func setPushSnapshot(_ call: CAPPluginCall) {
        if let snapshot = call.getObject("snapshot") {
            NexusPushReplay.setSnapshot(try? JSONSerialization.data(withJSONObject: snapshot))
        } else {
            NexusPushReplay.setSnapshot(nil)
        }
        call.resolve()
    }

    @objc func takeNativeRuns(_ call: CAPPluginCall) {
        call.resolve(["runs": NexusPushReplay.takeRuns()])
    }

    func emitRun(runId: String, taskId: String, kind: String, attempt: Int) {
        notifyListeners("run", data: ["runId": runId, "taskId": taskId, "kind": kind, "attempt": attempt], retainUntilConsumed: true)
    }

    func emitExpire(runId: String, taskId: String) {
        notifyListeners("expire", data: ["runId": runId, "taskId": taskId], retainUntilConsumed: true)
    }
}
