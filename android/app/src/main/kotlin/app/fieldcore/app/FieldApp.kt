package app.fieldcore.app

import android.app.Application
import kotlinx.coroutines.CoroutineScope
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.SupervisorJob

/**
 * The process: opens the core once (off the main thread, see [CoreHolder]) and makes sure the
 * periodic background sync is scheduled. Activities and workers reach both through
 * [fieldApp].
 */
class FieldApp : Application() {
    /** Lives as long as the process; work that must outlive a screen runs here. */
    val appScope = CoroutineScope(SupervisorJob() + Dispatchers.Main.immediate)

    lateinit var core: CoreHolder
        private set

    lateinit var sync: SyncScheduler
        private set

    override fun onCreate() {
        super.onCreate()
        core = CoreHolder(this, appScope).also { it.open() }
        sync = SyncScheduler(this, appScope).also { it.schedulePeriodic() }
    }
}

val android.content.Context.fieldApp: FieldApp get() = applicationContext as FieldApp
