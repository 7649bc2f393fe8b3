package dev.nexusstore.reactnative

import android.content.Context
import androidx.work.CoroutineWorker
import androidx.work.WorkerParameters
import com.facebook.react.bridge.Arguments
import kotlinx.coroutines.CancellationException
import kotlinx.coroutines.withTimeoutOrNull

/**
 * One WorkManager run. If JavaScript listens (app alive) it gets the BRIDGE.md `run` event; otherwise
 * headless JS is started with the same event. Either way TypeScript answers `complete(runId, result)`:
 * retry → Result.retry() (native exponential backoff), failure → Result.failure().
 */
class NexusSyncWorker(context: Context, params: WorkerParameters) : CoroutineWorker(context, params) {
    override suspend fun doWork(): Result {
        val taskId = inputData.getString(NexusSyncScheduler.KEY_TASK_ID) ?: "nexus-store.sync"
        val kind = inputData.getString(NexusSyncScheduler.KEY_KIND) ?: "periodic"
        val attempt = maxOf(runAttemptCount, inputData.getInt(NexusSyncScheduler.KEY_ATTEMPT, 0))
        val runId = "$id-$runAttemptCount"
        val completion = NexusRunRegistry.start(runId)
        try {
            val module = NexusBackgroundSyncModule.listening()
            if (module != null) {
                module.emitRun(runId, taskId, kind, attempt)
            } else {
                val data = Arguments.createMap().apply {
                    putString("runId", runId)
                    putString("taskId", taskId)
                    putString("kind", kind)
                    putInt("attempt", attempt)
                }
                NexusHeadlessStarter.start(applicationContext, data, WAIT_FOR_JS_MS)
            }
            val answer = withTimeoutOrNull(WAIT_FOR_JS_MS) { completion.await() }
            return when (answer?.result) {
                "success" -> Result.success()
                "failure" -> Result.failure()
                else -> Result.retry()
            }
        } catch (stopped: CancellationException) {
            NexusBackgroundSyncModule.current()?.emitExpire(runId, taskId)
            throw stopped
        } finally {
            NexusRunRegistry.forget(runId)
        }
    }

    companion object {
        const val WAIT_FOR_JS_MS = 9 * 60 * 1000L
    }
}
