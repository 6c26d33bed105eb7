package app.fieldcore.ui

import androidx.compose.ui.graphics.toAwtImage
import androidx.compose.ui.semantics.SemanticsActions
import androidx.compose.ui.semantics.SemanticsProperties
import androidx.compose.ui.test.SemanticsNodeInteraction
import androidx.compose.ui.semantics.getOrNull
import androidx.compose.ui.test.hasTestTag
import androidx.compose.ui.test.junit4.ComposeContentTestRule
import androidx.compose.ui.test.onNodeWithTag
import androidx.compose.ui.test.onRoot
import androidx.compose.ui.test.performClick
import androidx.compose.ui.test.performScrollTo
import androidx.compose.ui.test.performTextInput
import androidx.compose.ui.test.performTextReplacement
import androidx.compose.ui.test.captureToImage
import app.fieldcore.Desk
import app.fieldcore.FieldCoreClient
import app.fieldcore.FieldCoreConfig
import app.fieldcore.Language
import app.fieldcore.TestServer
import kotlinx.coroutines.runBlocking
import java.io.File
import javax.imageio.ImageIO

/** One sync-server for the whole test run (its data dir is fresh; every test makes its own technician). */
object SharedServer {
    val server: TestServer by lazy {
        TestServer.start().also { s -> Runtime.getRuntime().addShutdownHook(Thread { s.close() }) }
    }
    val desk: Desk by lazy { Desk(server.url) }
}

/** Generous: the machine is slow and shared, and a sync goes through a real server. */
const val TIMEOUT_MS = 60_000L

/** Where screenshots go (target/ui-screenshots from the pom). */
val screenshotDir: File = File(System.getProperty("fieldcore.screenshots.dir") ?: "target/ui-screenshots").apply { mkdirs() }

/** The core for one test, in its own folder, not enrolled yet. */
fun openClient(dir: File): FieldCoreClient = runBlocking {
    FieldCoreClient.open(FieldCoreConfig(databaseFile = File(dir, "core/fieldcore.db"), language = Language.EN))
}

/**
 * The technician's hands: wait for a control, scroll to it, use it. [diagnose] says, on a
 * time-out, what the core thought could be done (so a failure tells why).
 */
class Hands(private val rule: ComposeContentTestRule, private val diagnose: () -> String = { "" }) {
    fun exists(tag: String): Boolean = rule.onAllNodesWithTagCount(tag) > 0

    fun waitFor(tag: String, enabled: Boolean = false, timeoutMs: Long = TIMEOUT_MS) {
        try {
            rule.waitUntil(timeoutMs) {
                // The unmerged tree: a tagged text inside a clickable card is merged into the card.
                val nodes = rule.onAllNodes(hasTestTag(tag), useUnmergedTree = true).fetchSemanticsNodes()
                nodes.isNotEmpty() && (!enabled || nodes.any { it.config.getOrNull(SemanticsProperties.Disabled) == null })
            }
        } catch (e: Throwable) {
            throw AssertionError("no ${if (enabled) "enabled " else ""}'$tag' after ${timeoutMs} ms; ${diagnose()}", e)
        }
    }

    fun click(tag: String) {
        waitFor(tag, enabled = true)
        scrolledTo(tag).performClick()
        rule.waitForIdle()
    }

    fun type(tag: String, text: String) {
        waitFor(tag, enabled = true)
        scrolledTo(tag).performTextInput(text)
    }

    /** The node, scrolled into view when it sits in a scrolling column (the job screen does). */
    fun scrolledTo(tag: String): SemanticsNodeInteraction {
        val node = rule.onNodeWithTag(tag)
        val scrollable = node.fetchSemanticsNode().let { n ->
            generateSequence(n.parent) { it.parent }.any { it.config.getOrNull(SemanticsActions.ScrollBy) != null }
        }
        return if (scrollable) node.performScrollTo() else node
    }

    /** Replace what a field holds (a prefilled one too) with [text]. */
    fun replace(tag: String, text: String) {
        waitFor(tag, enabled = true)
        scrolledTo(tag).performTextReplacement(text)
    }

    /** The text a field holds now, or with [editable] false the text a label shows. */
    fun textOf(tag: String, editable: Boolean = true): String {
        val config = rule.onNodeWithTag(tag).fetchSemanticsNode().config
        return if (editable) {
            config.getOrNull(SemanticsProperties.EditableText)?.text.orEmpty()
        } else {
            config.getOrNull(SemanticsProperties.Text)?.joinToString(" ") { it.text }.orEmpty()
        }
    }

    fun isSelected(tag: String): Boolean =
        rule.onNodeWithTag(tag).fetchSemanticsNode().config.getOrNull(SemanticsProperties.Selected) == true

    fun isEnabled(tag: String): Boolean =
        rule.onNodeWithTag(tag).fetchSemanticsNode().config.getOrNull(SemanticsProperties.Disabled) == null

    fun screenshot(name: String) {
        rule.waitForIdle()
        val image = rule.onRoot().captureToImage().toAwtImage()
        ImageIO.write(image, "png", File(screenshotDir, "$name.png"))
    }
}

private fun ComposeContentTestRule.onAllNodesWithTagCount(tag: String): Int =
    onAllNodes(hasTestTag(tag), useUnmergedTree = true).fetchSemanticsNodes().size
