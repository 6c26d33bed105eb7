// The same Kotlin library as lib/pom.xml, packaged as an Android library (AAR) with the
// cargo-ndk-built libfieldcore_ffi.so for each ABI. Run ../../scripts/bindings first (generated
// Kotlin) and cargo ndk (README.md) for src/main/jniLibs.
plugins {
    id("com.android.library")
    id("org.jetbrains.kotlin.android")
}

android {
    namespace = "app.fieldcore"
    compileSdk = 35
    defaultConfig {
        minSdk = 26 // java.time.Instant without desugaring
        consumerProguardFiles("consumer-rules.pro")
    }
    sourceSets["main"].apply {
        java.srcDirs("src/main/kotlin", "build/generated/uniffi/kotlin")
        jniLibs.srcDirs("src/main/jniLibs")
    }
    compileOptions {
        sourceCompatibility = JavaVersion.VERSION_17
        targetCompatibility = JavaVersion.VERSION_17
    }
    kotlinOptions { jvmTarget = "17" }
}

dependencies {
    // JNA's AAR carries libjnidispatch.so for every Android ABI.
    implementation("net.java.dev.jna:jna:5.17.0@aar")
    implementation("org.jetbrains.kotlinx:kotlinx-coroutines-android:1.10.2")
}
