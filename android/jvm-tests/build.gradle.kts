// The Kotlin tests of the bindings on the JVM, against the host build of libsafehome_ffi with
// the `test-hooks` feature (SafeHomeStore.openForTesting, the forced-panic hook) and
// `provisioning` (generateRecipientIdentity, for the archive key of the fixtures). The same
// sources are compiled with kotlinc by scripts/kotlin-tests.sh, which is what runs in CI today.
//
//   ./gradlew :jvm-tests:test

import org.gradle.internal.os.OperatingSystem

plugins {
    alias(libs.plugins.kotlin.jvm)
}

val repoRoot: File = rootProject.projectDir.parentFile
val cargoTarget: File = System.getenv("CARGO_TARGET_DIR")?.let(::File) ?: File(repoRoot, "target")
val hostLibName: String = when {
    OperatingSystem.current().isMacOsX -> "libsafehome_ffi.dylib"
    OperatingSystem.current().isWindows -> "safehome_ffi.dll"
    else -> "libsafehome_ffi.so"
}
val generatedKotlin = layout.buildDirectory.dir("generated/uniffi/kotlin")

kotlin {
    jvmToolchain(17)
}

/** Build the host library (debug, with test hooks and provisioning) and the workspace's uniffi-bindgen. */
val cargoBuildHost by tasks.registering(Exec::class) {
    description = "cargo build -p safehome-ffi --features test-hooks,provisioning (host)"
    workingDir = repoRoot
    commandLine(
        "cargo", "build", "--locked",
        "-p", "safehome-ffi", "--features", "safehome-ffi/test-hooks,safehome-ffi/provisioning",
        "-p", "safehome-uniffi-bindgen",
    )
    // Cargo decides what to rebuild; Gradle only needs to know when to ask.
    inputs.files(
        fileTree(repoRoot) {
            include("Cargo.toml", "Cargo.lock", "core/**", "bindings/**")
            exclude("**/target/**")
        },
    )
    outputs.file(File(cargoTarget, "debug/$hostLibName"))
}

/** Generate the Kotlin bindings from the built library (uniffi library mode). */
val generateBindings by tasks.registering(Exec::class) {
    description = "uniffi-bindgen kotlin: uniffi's Kotlin with the call-layer rewrite (docs/bindings.md)"
    dependsOn(cargoBuildHost)
    workingDir = repoRoot
    val out = generatedKotlin.get().asFile
    doFirst { out.deleteRecursively() }
    commandLine(
        File(cargoTarget, "debug/uniffi-bindgen").path, "kotlin",
        File(cargoTarget, "debug/$hostLibName").path, out.path,
    )
    inputs.file(File(cargoTarget, "debug/$hostLibName"))
    outputs.dir(out)
}

sourceSets {
    test {
        kotlin.srcDir(generatedKotlin)
    }
}

tasks.named("compileTestKotlin") { dependsOn(generateBindings) }

dependencies {
    testImplementation(libs.jna)
    testImplementation(libs.junit)
}

tasks.test {
    useJUnit()
    // JNA loads libsafehome_ffi from the cargo target directory; the tests read fixtures from
    // testdata/ in the repository.
    systemProperty("jna.library.path", File(cargoTarget, "debug").path)
    systemProperty("safehome.repoRoot", repoRoot.path)
    environment("RUST_BACKTRACE", "0")
    // TestRunner.kt is the kotlinc harness's entry point, not a test.
    exclude("**/TestRunnerKt.class")
    testLogging { events("failed"); exceptionFormat = org.gradle.api.tasks.testing.logging.TestExceptionFormat.FULL }
}
