package dev.nexusstore.reactnative

import android.content.Context
import android.os.Handler
import android.os.Looper
import com.facebook.react.ReactApplication
import com.facebook.react.ReactInstanceEventListener
import com.facebook.react.bridge.ReactContext
import com.facebook.react.bridge.WritableMap
import com.facebook.react.jstasks.HeadlessJsTaskConfig
import com.facebook.react.jstasks.HeadlessJsTaskContext

/**
 * Starts the headless JS task `NexusBackgroundSync` (registered by `registerHeadlessSyncTask`) when
 * no JavaScript listens: creates the React context if the app is terminated. Written against the
 * classic ReactInstanceManager; the bridgeless ReactHost is not handled yet (see README).
 */
object NexusHeadlessStarter {
    const val TASK_NAME = "NexusBackgroundSync"

    fun start(context: Context, data: WritableMap, timeoutMs: Long) {
        Handler(Looper.getMainLooper()).post {
            val manager = (context.applicationContext as ReactApplication).reactNativeHost.reactInstanceManager
            val config = HeadlessJsTaskConfig(TASK_NAME, data, timeoutMs, true)
            val current = manager.currentReactContext
            if (current != null) {
                HeadlessJsTaskContext.getInstance(current).startTask(config)
                return@post
            }
            manager.addReactInstanceEventListener(object : ReactInstanceEventListener {
                override fun onReactContextInitialized(reactContext: ReactContext) {
                    manager.removeReactInstanceEventListener(this)
                    HeadlessJsTaskContext.getInstance(reactContext).startTask(config)
                }
            })
            manager.createReactContextInBackground()
        }
    }
}
