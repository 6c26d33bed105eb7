package app.fieldcore.app

import android.os.Bundle
import androidx.activity.ComponentActivity
import androidx.activity.compose.setContent
import androidx.compose.material3.MaterialTheme
import androidx.navigation.compose.NavHost
import androidx.navigation.compose.composable
import androidx.navigation.compose.rememberNavController

class MainActivity : ComponentActivity() {
    override fun onCreate(savedInstanceState: Bundle?) {
        super.onCreate(savedInstanceState)
        setContent {
            MaterialTheme {
                val nav = rememberNavController()
                NavHost(nav, startDestination = "jobs") {
                    composable("jobs") { JobListScreen(onOpen = { nav.navigate("job/$it") }) }
                    composable("job/{id}") { entry -> JobScreen(jobId = entry.arguments!!.getString("id")!!) }
                }
            }
        }
    }
}
