package app.fieldcore.app

import androidx.compose.foundation.Canvas
import androidx.compose.foundation.border
import androidx.compose.foundation.gestures.detectDragGestures
import androidx.compose.foundation.layout.Column
import androidx.compose.foundation.layout.fillMaxWidth
import androidx.compose.foundation.layout.height
import androidx.compose.material3.Button
import androidx.compose.material3.OutlinedButton
import androidx.compose.material3.Text
import androidx.compose.runtime.Composable
import androidx.compose.runtime.mutableStateListOf
import androidx.compose.runtime.remember
import androidx.compose.ui.Modifier
import androidx.compose.ui.geometry.Offset
import androidx.compose.ui.graphics.Color
import androidx.compose.ui.graphics.drawscope.Stroke
import androidx.compose.ui.input.pointer.pointerInput
import androidx.compose.ui.unit.IntSize
import androidx.compose.ui.unit.dp
import androidx.compose.ui.graphics.Path
import app.fieldcore.PenSample

/** The customer signs here, themselves. The strokes (with timing) go to the core as they are. */
@Composable
fun SignaturePad(onSigned: (width: Int, height: Int, strokes: List<List<PenSample>>) -> Unit) {
    val strokes = remember { mutableStateListOf<MutableList<PenSample>>() }
    val started = remember { longArrayOf(0L) }
    val size = remember { arrayOf(IntSize.Zero) }
    Column {
        Text("Customer's signature")
        Canvas(
            Modifier.fillMaxWidth().height(200.dp).border(1.dp, Color.Gray)
                .pointerInput(Unit) {
                    size[0] = this.size
                    detectDragGestures(
                        onDragStart = { p: Offset ->
                            if (started[0] == 0L) started[0] = System.currentTimeMillis()
                            strokes.add(mutableListOf(sample(p, started[0])))
                        },
                        onDrag = { change, _ -> strokes.lastOrNull()?.add(sample(change.position, started[0])) },
                    )
                },
        ) {
            strokes.forEach { s ->
                val path = Path()
                s.forEachIndexed { i, p -> if (i == 0) path.moveTo(p.x, p.y) else path.lineTo(p.x, p.y) }
                drawPath(path, Color.Black, style = Stroke(width = 3f))
            }
        }
        OutlinedButton({ strokes.clear(); started[0] = 0L }) { Text("Clear") }
        Button({ onSigned(size[0].width, size[0].height, strokes.map { it.toList() }) }) { Text("Save signature") }
    }
}

private fun sample(p: Offset, start: Long) = PenSample(p.x, p.y, (System.currentTimeMillis() - start).toInt())
