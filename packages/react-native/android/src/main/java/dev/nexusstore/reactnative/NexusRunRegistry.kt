package dev.nexusstore.reactnative

import kotlinx.coroutines.CompletableDeferred
import java.util.concurrent.ConcurrentHashMap

/** Runs handed to JavaScript, waiting for BRIDGE.md `complete(runId, result)`. */
object NexusRunRegistry {
    data class Completion(val result: String, val retryAfterMs: Long, val attempt: Int)

    private val pending = ConcurrentHashMap<String, CompletableDeferred<Completion>>()

    fun start(runId: String): CompletableDeferred<Completion> = CompletableDeferred<Completion>().also { pending[runId] = it }

    /** Returns false when no run with this id waits (already completed, or unknown). */
    fun complete(runId: String, completion: Completion): Boolean = pending.remove(runId)?.complete(completion) ?: false

    fun forget(runId: String) {
        pending.remove(runId)
    }
}
