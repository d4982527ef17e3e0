// SafeHome for Android: the Rust core packaged for apps, and its Kotlin tests on the JVM.
//
//   :core       Android library (aar): libsafehome_ffi.so for arm64-v8a, armeabi-v7a and x86_64
//               built with cargo-ndk (16 KB pages), the generated Kotlin (org.safehome.core), JNA
//               as an aar, consumer R8 rules, and thin Android glue (org.safehome.android).
//   :jvm-tests  the Kotlin tests of android/jvm-tests against the host build of the library
//               (with the `test-hooks` and `provisioning` features), on the JVM with JNA: the same tests that
//               scripts/kotlin-tests.sh compiles with kotlinc.
//
// Both modules drive cargo from the repository root (one level up). See docs/bindings.md.

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

rootProject.name = "safehome-android"
include(":core", ":jvm-tests")
