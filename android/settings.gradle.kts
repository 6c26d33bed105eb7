// For Android Studio users. CI builds and tests the Kotlin library with Maven (lib/pom.xml) on
// the host JVM; this Gradle build packages the library and the app for phones.
pluginManagement {
    repositories {
        google()
        mavenCentral()
        gradlePluginPortal()
    }
}
dependencyResolutionManagement {
    repositoriesMode.set(RepositoriesMode.FAIL_ON_PROJECT_REPOS)
    repositories {
        google()
        mavenCentral()
    }
}
rootProject.name = "fieldcore"
include(":lib", ":ui", ":app")
