// The Android app: the platform shell around the shared screens (:ui) and the Kotlin library
// (:lib). It holds Android glue only (activity, camera, location, WorkManager, manifest); every
// decision (what is allowed, what is missing, timers, retries) comes from the core.
plugins {
    id("com.android.application")
    id("org.jetbrains.kotlin.android")
    id("org.jetbrains.kotlin.plugin.compose")
}

android {
    namespace = "app.fieldcore.app"
    compileSdk = 35
    defaultConfig {
        applicationId = "app.fieldcore.app"
        minSdk = 26
        targetSdk = 35
        versionCode = 1
        versionName = "0.1.0"
        buildConfigField("String", "SERVER_URL", "\"https://sync.example.invalid\"")
    }
    buildFeatures {
        compose = true
        buildConfig = true
    }
    compileOptions {
        sourceCompatibility = JavaVersion.VERSION_17
        targetCompatibility = JavaVersion.VERSION_17
    }
    kotlinOptions { jvmTarget = "17" }
    buildTypes {
        release {
            // R8: JNA and the generated bindings are kept by lib/consumer-rules.pro and
            // proguard-rules.pro (JNA reaches them by reflection from native code).
            isMinifyEnabled = true
            isShrinkResources = true
            proguardFiles(getDefaultProguardFile("proguard-android-optimize.txt"), "proguard-rules.pro")
        }
    }
    packaging {
        // The .so files stay uncompressed in the APK so they load in place; AGP 8.5.1+ aligns
        // them on 16 KB (Android 15 16 KB page sizes).
        jniLibs.useLegacyPackaging = false
    }
}

dependencies {
    implementation(project(":lib"))
    implementation(project(":ui"))
    implementation(platform("androidx.compose:compose-bom:2024.12.01"))
    implementation("androidx.compose.material3:material3")
    implementation("androidx.compose.ui:ui")
    implementation("androidx.activity:activity-compose:1.9.3")
    implementation("androidx.lifecycle:lifecycle-runtime-compose:2.8.7")
    implementation("androidx.core:core-ktx:1.15.0")
    implementation("androidx.work:work-runtime-ktx:2.10.0")
}
