package dev.nexusstore.capacitor

import com.getcapacitor.JSArray
import com.getcapacitor.JSObject
import com.getcapacitor.Plugin
import com.getcapacitor.PluginCall
import com.getcapacitor.PluginMethod
import com.getcapacitor.annotation.CapacitorPlugin
import java.lang.ref.WeakReference

/** The Capacitor side of BRIDGE.md. Thin: every decision is made in TypeScript. */
@CapacitorPlugin(name = "NexusBackgroundSync")
class NexusBackgroundSyncPlugin : Plugin() {
    override fun load() {
        current = WeakReference(this)
    }

    override fun handleOnDestroy() {
        if (current.get() === this) current = WeakReference(null)
        super.handleOnDestroy()
    }

    private fun constraintsOf(call: PluginCall): NativeConstraints {
        val c = call.getObject("constraints") ?: JSObject()
        return NativeConstraints(c.optBoolean("network", true), c.optBoolean("charging", false), c.optBoolean("batteryNotLow", false))
    }

    private fun backoffOf(call: PluginCall): Long = (call.getObject("backoff") ?: JSObject()).optLong("initialDelayMs", 30_000L)

    @PluginMethod
    fun schedule(call: PluginCall) {
        val taskId = call.getString("taskId") ?: return call.reject("taskId is required", "INVALID_ARGUMENT")
        NexusSyncScheduler.schedule(
            context,
            ScheduleRequest(
                taskId = taskId,
                intervalMs = call.getLong("intervalMs") ?: (15 * 60_000L),
                initialDelayMs = call.getLong("initialDelayMs") ?: 0L,
                constraints = constraintsOf(call),
                backoffInitialDelayMs = backoffOf(call),
                attempt = call.getInt("attempt") ?: 0,
            ),
        )
        call.resolve()
    }

    @PluginMethod
    fun runNow(call: PluginCall) {
        val taskId = call.getString("taskId") ?: return call.reject("taskId is required", "INVALID_ARGUMENT")
        NexusSyncScheduler.runNow(context, taskId, constraintsOf(call), backoffOf(call))
        call.resolve()
    }

    @PluginMethod
    fun cancel(call: PluginCall) {
        val taskId = call.getString("taskId") ?: return call.reject("taskId is required", "INVALID_ARGUMENT")
        NexusSyncScheduler.cancel(context, taskId)
        call.resolve()
    }

    @PluginMethod
    fun complete(call: PluginCall) {
        val runId = call.getString("runId") ?: return call.reject("runId is required", "INVALID_ARGUMENT")
        val completion = NexusRunRegistry.Completion(
            result = call.getString("result") ?: "failure",
            retryAfterMs = call.getLong("retryAfterMs") ?: 0L,
            attempt = call.getInt("attempt") ?: 0,
        )
        // A late completion (after a timeout) is ignored: WorkManager already has its result.
        NexusRunRegistry.complete(runId, completion)
        call.resolve()
    }

    @PluginMethod
    fun setPushSnapshot(call: PluginCall) {
        NexusSyncStore(context).setSnapshot(call.getObject("snapshot")?.toString())
        call.resolve()
    }

    @PluginMethod
    fun takeNativeRuns(call: PluginCall) {
        val runs = NexusSyncStore(context).takeRuns()
        call.resolve(JSObject().put("runs", JSArray(runs.toString())))
    }

    /** retainUntilConsumed: a run that fires before the web view subscribes is delivered when it does. */
    fun emitRun(runId: String, taskId: String, kind: String, attempt: Int) {
        notifyListeners("run", JSObject().put("runId", runId).put("taskId", taskId).put("kind", kind).put("attempt", attempt), true)
    }

    fun emitExpire(runId: String, taskId: String) {
        notifyListeners("expire", JSObject().put("runId", runId).put("taskId", taskId), true)
    }

    companion object {
        @Volatile
        private var current: WeakReference<NexusBackgroundSyncPlugin?> = WeakReference(null)

        /** The plugin of a live bridge (web view), or null when the app's UI process has no web view. */
        fun active(): NexusBackgroundSyncPlugin? = current.get()?.takeIf { it.bridge?.webView != null }
    }
}
