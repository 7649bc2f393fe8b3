package dev.nexusstore.capacitor

import android.content.Context
import org.json.JSONArray
import org.json.JSONObject

/**
 * Native storage of BRIDGE.md: the push snapshot (written by TypeScript) and the runs the worker did
 * alone (read and cleared by `takeNativeRuns`). Private SharedPreferences; the snapshot holds a bearer
 * token, so apps with stricter needs swap this for EncryptedSharedPreferences.
 */
class NexusSyncStore(context: Context) {
    private val prefs = context.getSharedPreferences("nexus-store.background", Context.MODE_PRIVATE)

    fun setSnapshot(json: String?) {
        prefs.edit().apply { if (json == null) remove(KEY_SNAPSHOT) else putString(KEY_SNAPSHOT, json) }.apply()
    }

    fun snapshot(): JSONObject? = prefs.getString(KEY_SNAPSHOT, null)?.let { JSONObject(it) }

    @Synchronized
    fun addRun(run: JSONObject) {
        val runs = JSONArray(prefs.getString(KEY_RUNS, "[]"))
        runs.put(run)
        // Keep the last 20: the app only needs the latest on its next launch.
        val trimmed = JSONArray()
        for (i in maxOf(0, runs.length() - 20) until runs.length()) trimmed.put(runs.get(i))
        prefs.edit().putString(KEY_RUNS, trimmed.toString()).apply()
    }

    @Synchronized
    fun takeRuns(): JSONArray {
        val runs = JSONArray(prefs.getString(KEY_RUNS, "[]"))
        prefs.edit().remove(KEY_RUNS).apply()
        return runs
    }

    companion object {
        private const val KEY_SNAPSHOT = "pushSnapshot"
        private const val KEY_RUNS = "nativeRuns"
    }
}
