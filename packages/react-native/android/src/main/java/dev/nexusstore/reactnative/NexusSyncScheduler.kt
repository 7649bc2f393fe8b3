package dev.nexusstore.reactnative

import android.content.Context
import androidx.work.BackoffPolicy
import androidx.work.Constraints
import androidx.work.ExistingPeriodicWorkPolicy
import androidx.work.ExistingWorkPolicy
import androidx.work.NetworkType
import androidx.work.OneTimeWorkRequestBuilder
import androidx.work.PeriodicWorkRequest
import androidx.work.PeriodicWorkRequestBuilder
import androidx.work.WorkManager
import androidx.work.WorkRequest
import androidx.work.workDataOf
import java.util.concurrent.TimeUnit

/** BRIDGE.md `schedule` / `runNow` / `cancel` mapped onto WorkManager. No decisions here: TypeScript makes them. */
data class NativeConstraints(val network: Boolean, val charging: Boolean, val batteryNotLow: Boolean)

data class ScheduleRequest(
    val taskId: String,
    val intervalMs: Long,
    val initialDelayMs: Long,
    val constraints: NativeConstraints,
    val backoffInitialDelayMs: Long,
    val attempt: Int,
)

object NexusSyncScheduler {
    const val KEY_TASK_ID = "taskId"
    const val KEY_KIND = "kind"
    const val KEY_ATTEMPT = "attempt"

    private fun constraintsOf(c: NativeConstraints): Constraints = Constraints.Builder()
        .setRequiredNetworkType(if (c.network) NetworkType.CONNECTED else NetworkType.NOT_REQUIRED)
        .setRequiresCharging(c.charging)
        .setRequiresBatteryNotLow(c.batteryNotLow)
        .build()

    private fun backoffMs(ms: Long) = ms.coerceIn(WorkRequest.MIN_BACKOFF_MILLIS, WorkRequest.MAX_BACKOFF_MILLIS)

    /** Unique periodic work (UPDATE keeps the current period); a request with attempt > 0 is a one-time retry. */
    fun schedule(context: Context, r: ScheduleRequest) {
        val wm = WorkManager.getInstance(context)
        if (r.attempt > 0) {
            val retry = OneTimeWorkRequestBuilder<NexusSyncWorker>()
                .setInitialDelay(r.initialDelayMs, TimeUnit.MILLISECONDS)
                .setConstraints(constraintsOf(r.constraints))
                .setBackoffCriteria(BackoffPolicy.EXPONENTIAL, backoffMs(r.backoffInitialDelayMs), TimeUnit.MILLISECONDS)
                .setInputData(workDataOf(KEY_TASK_ID to r.taskId, KEY_KIND to "oneTime", KEY_ATTEMPT to r.attempt))
                .addTag(r.taskId)
                .build()
            wm.enqueueUniqueWork("${r.taskId}.retry", ExistingWorkPolicy.REPLACE, retry)
            return
        }
        val interval = r.intervalMs.coerceAtLeast(PeriodicWorkRequest.MIN_PERIODIC_INTERVAL_MILLIS)
        val periodic = PeriodicWorkRequestBuilder<NexusSyncWorker>(interval, TimeUnit.MILLISECONDS)
            .setInitialDelay(r.initialDelayMs, TimeUnit.MILLISECONDS)
            .setConstraints(constraintsOf(r.constraints))
            .setBackoffCriteria(BackoffPolicy.EXPONENTIAL, backoffMs(r.backoffInitialDelayMs), TimeUnit.MILLISECONDS)
            .setInputData(workDataOf(KEY_TASK_ID to r.taskId, KEY_KIND to "periodic", KEY_ATTEMPT to 0))
            .addTag(r.taskId)
            .build()
        wm.enqueueUniquePeriodicWork(r.taskId, ExistingPeriodicWorkPolicy.UPDATE, periodic)
    }

    /** One-time work as soon as constraints hold (KEEP: a second runNow while one waits is the same run). */
    fun runNow(context: Context, taskId: String, constraints: NativeConstraints, backoffInitialDelayMs: Long) {
        val once = OneTimeWorkRequestBuilder<NexusSyncWorker>()
            .setConstraints(constraintsOf(constraints))
            .setBackoffCriteria(BackoffPolicy.EXPONENTIAL, backoffMs(backoffInitialDelayMs), TimeUnit.MILLISECONDS)
            .setInputData(workDataOf(KEY_TASK_ID to taskId, KEY_KIND to "oneTime", KEY_ATTEMPT to 0))
            .addTag(taskId)
            .build()
        WorkManager.getInstance(context).enqueueUniqueWork("$taskId.now", ExistingWorkPolicy.KEEP, once)
    }

    fun cancel(context: Context, taskId: String) {
        val wm = WorkManager.getInstance(context)
        wm.cancelUniqueWork(taskId)
        wm.cancelUniqueWork("$taskId.now")
        wm.cancelUniqueWork("$taskId.retry")
    }
}
