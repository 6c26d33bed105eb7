package app.fieldcore.app

import android.app.Application
import app.fieldcore.FieldCoreClient
import app.fieldcore.FieldCoreConfig
import app.fieldcore.Language
import kotlinx.coroutines.CoroutineScope
import kotlinx.coroutines.Deferred
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.SupervisorJob
import kotlinx.coroutines.async
import java.io.File
import java.util.Locale

/** Holds the one FieldCoreClient of the process and schedules background sync. */
class FieldApp : Application() {
    private val scope = CoroutineScope(SupervisorJob() + Dispatchers.Default)

    lateinit var core: Deferred<FieldCoreClient>
        private set

    override fun onCreate() {
        super.onCreate()
        val language = if (Locale.getDefault().language == "zh") Language.ZH_CN else Language.EN
        core = scope.async {
            FieldCoreClient.open(
                FieldCoreConfig(
                    databaseFile = File(noBackupFilesDir, "fieldcore/fieldcore.db"),
                    photoDir = File(filesDir, "photos"),
                    serverUrl = BuildConfig.SERVER_URL,
                    language = language,
                ),
            )
        }
        SyncWorker.schedule(this)
    }
}

suspend fun android.content.Context.fieldCore(): FieldCoreClient = (applicationContext as FieldApp).core.await()
