package app.fieldcore.app

import android.content.Context
import android.content.pm.ServiceInfo
import android.os.Build
import androidx.core.app.NotificationChannelCompat
import androidx.core.app.NotificationCompat
import androidx.core.app.NotificationManagerCompat
import androidx.work.ForegroundInfo

/**
 * The notification a sync shows while it runs as a foreground service (long photo uploads).
 * Its type is dataSync, matching the manifest's declaration of WorkManager's
 * SystemForegroundService and the FOREGROUND_SERVICE_DATA_SYNC permission (Android 14+).
 */
object SyncNotification {
    private const val CHANNEL = "sync"
    private const val ID = 1

    fun foregroundInfo(context: Context): ForegroundInfo {
        val manager = NotificationManagerCompat.from(context)
        manager.createNotificationChannel(
            NotificationChannelCompat.Builder(CHANNEL, NotificationManagerCompat.IMPORTANCE_LOW)
                .setName(context.getString(R.string.sync_channel_name))
                .build(),
        )
        val notification = NotificationCompat.Builder(context, CHANNEL)
            .setSmallIcon(R.drawable.ic_sync)
            .setContentTitle(context.getString(R.string.sync_notification_title))
            .setProgress(0, 0, true)
            .setOngoing(true)
            .setSilent(true)
            .build()
        return if (Build.VERSION.SDK_INT >= Build.VERSION_CODES.Q) {
            ForegroundInfo(ID, notification, ServiceInfo.FOREGROUND_SERVICE_TYPE_DATA_SYNC)
        } else {
            ForegroundInfo(ID, notification)
        }
    }
}
