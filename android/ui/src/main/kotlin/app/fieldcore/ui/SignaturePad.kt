package app.fieldcore.ui

import androidx.compose.foundation.Canvas
import androidx.compose.foundation.background
import androidx.compose.foundation.border
import androidx.compose.foundation.gestures.awaitEachGesture
import androidx.compose.foundation.gestures.awaitFirstDown
import androidx.compose.foundation.layout.Arrangement
import androidx.compose.foundation.layout.Column
import androidx.compose.foundation.layout.Row
import androidx.compose.foundation.layout.fillMaxWidth
import androidx.compose.foundation.layout.height
import androidx.compose.material3.Button
import androidx.compose.material3.OutlinedButton
import androidx.compose.material3.Text
import androidx.compose.runtime.Composable
import androidx.compose.runtime.getValue
import androidx.compose.runtime.mutableStateListOf
import androidx.compose.runtime.mutableStateOf
import androidx.compose.runtime.remember
import androidx.compose.runtime.setValue
import androidx.compose.runtime.snapshots.SnapshotStateList
import androidx.compose.ui.Modifier
import androidx.compose.ui.graphics.Color
import androidx.compose.ui.graphics.Path
import androidx.compose.ui.graphics.StrokeCap
import androidx.compose.ui.graphics.StrokeJoin
import androidx.compose.ui.graphics.drawscope.Stroke
import androidx.compose.ui.input.pointer.pointerInput
import androidx.compose.ui.input.pointer.positionChanged
import androidx.compose.ui.geometry.Offset
import androidx.compose.ui.layout.onSizeChanged
import androidx.compose.ui.platform.testTag
import androidx.compose.ui.unit.IntSize
import androidx.compose.ui.unit.dp
import app.fieldcore.PenSample

/**
 * The customer signs here, themselves. Every stroke is kept as drawn, with its timing, in snapshot
 * state, so the ink follows the finger; Save hands the strokes and the pad's size to [onSave]
 * (the core renders and stores them). A stroke starts at the first touch, with no touch slop, so
 * the beginning of each letter is never lost.
 *
 * The strokes are deliberately not saved across process death: a signature is given in one go,
 * in front of the technician, and its timing would not survive a restart anyway.
 */
@Composable
fun SignaturePad(strings: Strings, enabled: Boolean, onSave: (widthPx: Int, heightPx: Int, strokes: List<List<PenSample>>) -> Unit) {
    val strokes = remember { mutableStateListOf<SnapshotStateList<PenSample>>() }
    // Uptime of the signature's first touch: every sample is timed from it.
    var startedAt by remember { mutableStateOf<Long?>(null) }
    var size by remember { mutableStateOf(IntSize.Zero) }

    Column(verticalArrangement = Arrangement.spacedBy(4.dp)) {
        Text(strings.signature)
        Canvas(
            Modifier.fillMaxWidth().height(180.dp)
                .background(Color.White)
                .border(1.dp, Color.Gray)
                .onSizeChanged { size = it }
                .testTag(Tags.SIGNATURE_PAD)
                .pointerInput(Unit) {
                    awaitEachGesture {
                        val down = awaitFirstDown()
                        val t0 = startedAt ?: down.uptimeMillis.also { startedAt = it }
                        val stroke = mutableStateListOf(PenSample(down.position.x, down.position.y, (down.uptimeMillis - t0).toInt()))
                        strokes.add(stroke)
                        down.consume()
                        while (true) {
                            val event = awaitPointerEvent()
                            val change = event.changes.firstOrNull { it.id == down.id } ?: break
                            if (change.positionChanged()) {
                                stroke.add(PenSample(change.position.x, change.position.y, (change.uptimeMillis - t0).toInt()))
                            }
                            change.consume()
                            if (!change.pressed) break
                        }
                    }
                },
        ) {
            strokes.forEach { s ->
                if (s.size == 1) {
                    drawCircle(Color.Black, radius = 2f, center = Offset(s[0].x, s[0].y))
                } else {
                    val path = Path()
                    s.forEachIndexed { i, p -> if (i == 0) path.moveTo(p.x, p.y) else path.lineTo(p.x, p.y) }
                    drawPath(path, Color.Black, style = Stroke(width = 4f, cap = StrokeCap.Round, join = StrokeJoin.Round))
                }
            }
        }
        Row(horizontalArrangement = Arrangement.spacedBy(8.dp)) {
            OutlinedButton(
                { strokes.clear(); startedAt = null },
                Modifier.testTag(Tags.SIGNATURE_CLEAR),
                enabled = enabled && strokes.isNotEmpty(),
            ) { Text(strings.signatureClear) }
            Button(
                { onSave(size.width, size.height, strokes.map { it.toList() }) },
                Modifier.testTag(Tags.SIGNATURE_SAVE),
                enabled = enabled && strokes.isNotEmpty() && size != IntSize.Zero,
            ) { Text(strings.signatureSave) }
        }
    }
}
