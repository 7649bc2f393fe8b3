package dev.nexusstore.capacitor

import org.json.JSONObject
import java.net.HttpURLConnection
import java.net.URL

/**
 * What the worker does when no JavaScript can run: POST the stored push request exactly as the
 * TypeScript side wrote it. Safe because push is idempotent (mutationId); the app reconciles on launch.
 */
object NexusPushReplay {
    data class Outcome(val result: String, val httpStatus: Int?, val mutationCount: Int)

    fun replay(snapshot: JSONObject?): Outcome {
        if (snapshot == null) return Outcome("success", null, 0)
        val body = snapshot.getJSONObject("body")
        val count = body.optJSONArray("mutations")?.length() ?: 0
        if (count == 0) return Outcome("success", null, 0)
        return try {
            val connection = URL(snapshot.getString("url")).openConnection() as HttpURLConnection
            connection.requestMethod = "POST"
            connection.doOutput = true
            connection.connectTimeout = 15_000
            connection.readTimeout = 60_000
            val headers = snapshot.optJSONObject("headers") ?: JSONObject()
            for (name in headers.keys()) connection.setRequestProperty(name, headers.getString(name))
            connection.outputStream.use { it.write(body.toString().toByteArray(Charsets.UTF_8)) }
            val status = connection.responseCode
            connection.disconnect()
            val result = when (status) {
                in 200..299 -> "success"
                401, 403 -> "failure" // the token expired: the app must sign in again and reconcile
                in 400..499 -> "failure"
                else -> "retry"
            }
            Outcome(result, status, count)
        } catch (error: Exception) {
            Outcome("retry", null, count)
        }
    }
}
