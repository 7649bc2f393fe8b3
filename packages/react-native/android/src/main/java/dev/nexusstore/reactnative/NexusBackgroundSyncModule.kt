package dev.nexusstore.reactnative

import com.facebook.react.bridge.Arguments
import com.facebook.react.bridge.Promise
import com.facebook.react.bridge.ReactApplicationContext
import com.facebook.react.bridge.ReactContextBaseJavaModule
import com.facebook.react.bridge.ReactMethod
import com.facebook.react.bridge.ReadableMap
import com.facebook.react.bridge.WritableMap
import com.facebook.react.modules.core.DeviceEventManagerModule
import java.lang.ref.WeakReference

/** `NativeModules.NexusBackgroundSync`: the React Native side of BRIDGE.md on Android. Thin. */
class NexusBackgroundSyncModule(private val reactContext: ReactApplicationContext) : ReactContextBaseJavaModule(reactContext) {
    private var listenerCount = 0
    private val buffered = mutableListOf<Pair<String, WritableMap>>()

    init {
        current = WeakReference(this)
    }

    override fun getName() = "NexusBackgroundSync"

    private fun constraintsOf(map: ReadableMap): NativeConstraints {
        val c: ReadableMap? = if (map.hasKey("constraints")) map.getMap("constraints") else null
        fun flag(name: String, default: Boolean) = if (c != null && c.hasKey(name)) c.getBoolean(name) else default
        return NativeConstraints(flag("network", true), flag("charging", false), flag("batteryNotLow", false))
    }

    private fun backoffOf(map: ReadableMap): Long {
        val backoff = if (map.hasKey("backoff")) map.getMap("backoff") else null
        return if (backoff != null && backoff.hasKey("initialDelayMs")) backoff.getDouble("initialDelayMs").toLong() else 30_000L
    }

    @ReactMethod
    fun schedule(request: ReadableMap, promise: Promise) {
        NexusSyncScheduler.schedule(
            reactContext,
            ScheduleRequest(
                taskId = request.getString("taskId") ?: "nexus-store.sync",
                intervalMs = request.getDouble("intervalMs").toLong(),
                initialDelayMs = request.getDouble("initialDelayMs").toLong(),
                constraints = constraintsOf(request),
                backoffInitialDelayMs = backoffOf(request),
                attempt = if (request.hasKey("attempt")) request.getInt("attempt") else 0,
            ),
        )
        promise.resolve(null)
    }

    @ReactMethod
    fun runNow(request: ReadableMap, promise: Promise) {
        NexusSyncScheduler.runNow(reactContext, request.getString("taskId") ?: "nexus-store.sync", constraintsOf(request), backoffOf(request))
        promise.resolve(null)
    }

    @ReactMethod
    fun cancel(taskId: String, promise: Promise) {
        NexusSyncScheduler.cancel(reactContext, taskId)
        promise.resolve(null)
    }

    @ReactMethod
    fun complete(runId: String, result: ReadableMap, promise: Promise) {
        NexusRunRegistry.complete(
            runId,
            NexusRunRegistry.Completion(
                result = result.getString("result") ?: "failure",
                retryAfterMs = if (result.hasKey("retryAfterMs")) result.getDouble("retryAfterMs").toLong() else 0L,
                attempt = if (result.hasKey("attempt")) result.getInt("attempt") else 0,
            ),
        )
        promise.resolve(null)
    }

    @ReactMethod
    fun setPushSnapshot(json: String?, promise: Promise) {
        NexusSyncStore(reactContext).setSnapshot(json)
        promise.resolve(null)
    }

    @ReactMethod
    fun takeNativeRuns(promise: Promise) {
        // React Native runs TypeScript headless instead of replaying: there are no native-only runs.
        promise.resolve(Arguments.createArray())
    }

    @ReactMethod
    @Synchronized
    fun addListener(eventName: String) {
        listenerCount += 1
        val pending = buffered.toList()
        buffered.clear()
        for ((name, data) in pending) emit(name, data)
    }

    @ReactMethod
    @Synchronized
    fun removeListeners(count: Int) {
        listenerCount = maxOf(0, listenerCount - count)
    }

    // Called from WorkManager threads and from the JS thread (addListener).
    @Synchronized
    private fun emit(name: String, data: WritableMap) {
        if (listenerCount == 0 || !reactContext.hasActiveReactInstance()) {
            buffered.add(name to data)
            return
        }
        reactContext.getJSModule(DeviceEventManagerModule.RCTDeviceEventEmitter::class.java).emit(name, data)
    }

    fun emitRun(runId: String, taskId: String, kind: String, attempt: Int) {
        emit("NexusBackgroundSync.run", Arguments.createMap().apply {
            putString("runId", runId)
            putString("taskId", taskId)
            putString("kind", kind)
            putInt("attempt", attempt)
        })
    }

    fun emitExpire(runId: String, taskId: String) {
        emit("NexusBackgroundSync.expire", Arguments.createMap().apply {
            putString("runId", runId)
            putString("taskId", taskId)
        })
    }

    companion object {
        @Volatile
        private var current: WeakReference<NexusBackgroundSyncModule?> = WeakReference(null)

        fun current(): NexusBackgroundSyncModule? = current.get()

        /** The module of a live JavaScript context that listens for runs, or null (then headless JS is started). */
        fun listening(): NexusBackgroundSyncModule? = current.get()?.takeIf { it.listenerCount > 0 && it.reactContext.hasActiveReactInstance() }
    }
}
