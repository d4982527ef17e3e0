package org.safehome.core

import kotlin.system.exitProcess
import org.junit.internal.TextListener
import org.junit.runner.JUnitCore

/**
 * Runs the JUnit 4 test classes named on the command line and closes with the line CI reads:
 * `N passed, N failed` (and `, N skipped` when some were ignored). Exits non-zero on any failure
 * or when no test ran at all.
 */
fun main(args: Array<String>) {
    val junit = JUnitCore()
    junit.addListener(TextListener(System.out))
    val result = junit.run(*args.map { Class.forName(it) }.toTypedArray())
    val failed = result.failureCount
    val passed = result.runCount - failed
    val skipped = if (result.ignoreCount > 0) ", ${result.ignoreCount} skipped" else ""
    println("$passed passed, $failed failed$skipped")
    exitProcess(if (failed == 0 && result.runCount > 0) 0 else 1)
}
