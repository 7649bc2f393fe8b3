package dev.nexusstore.capacitor

import android.content.Context
import androidx.work.CoroutineWorker
import androidx.work.WorkerParameters
import kotlinx.coroutines.CancellationException
import kotlinx.coroutines.withTimeoutOrNull
import org.json.JSONObject

/**
 * One WorkManager run. With a live web view it hands the run to TypeScript (BRIDGE.md `run` event)
 * and returns what TypeScript decides (`complete`); without one (app terminated) it replays the push
 * snapshot. Retry → Result.retry() (WorkManager's exponential backoff), failure → Result.failure().
 */
class NexusSyncWorker(context: Context, params: WorkerParameters) : CoroutineWorker(context, params) {
    override suspend fun doWork(): Result {
        val taskId = inputData.getString(NexusSyncScheduler.KEY_TASK_ID) ?: "nexus-store.sync"
        val kind = inputData.getString(NexusSyncScheduler.KEY_KIND) ?: "periodic"
        val attempt = maxOf(runAttemptCount, inputData.getInt(NexusSyncScheduler.KEY_ATTEMPT, 0))
        val runId = "$id-$runAttemptCount"
        val plugin = NexusBackgroundSyncPlugin.active()
        if (plugin == null) return replay(runId, kind)

        val completion = NexusRunRegistry.start(runId)
        try {
            plugin.emitRun(runId, taskId, kind, attempt)
            // Stay below WorkManager's 10-minute limit; no answer means the web view is gone: retry.
            val answer = withTimeoutOrNull(WAIT_FOR_JS_MS) { completion.await() }
            return when (answer?.result) {
                "success" -> Result.success()
                "failure" -> Result.failure()
                else -> Result.retry()
            }
        } catch (stopped: CancellationException) {
            // WorkManager stopped us (constraints lost, quota): let TypeScript abort; the run is retried.
            plugin.emitExpire(runId, taskId)
            throw stopped
        } finally {
            NexusRunRegistry.forget(runId)
        }
    }

    private fun replay(runId: String, kind: String): Result {
        val store = NexusSyncStore(applicationContext)
        val startedAt = System.currentTimeMillis()
        val outcome = NexusPushReplay.replay(store.snapshot())
        store.addRun(
            JSONObject()
                .put("runId", runId)
                .put("kind", kind)
                .put("startedAt", startedAt)
                .put("finishedAt", System.currentTimeMillis())
                .put("result", outcome.result)
                .put("httpStatus", outcome.httpStatus ?: JSONObject.NULL)
                .put("mutationCount", outcome.mutationCount),
        )
        return when (outcome.result) {
            "success" -> Result.success()
            "failure" -> Result.failure()
            else -> if (runAttemptCount < MAX_NATIVE_RETRIES) Result.retry() else Result.failure()
        }
    }

    companion object {
        const val WAIT_FOR_JS_MS = 9 * 60 * 1000L
        const val MAX_NATIVE_RETRIES = 5
    }
}
