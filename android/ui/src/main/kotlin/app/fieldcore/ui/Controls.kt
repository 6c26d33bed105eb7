package app.fieldcore.ui

import androidx.compose.foundation.layout.Column
import androidx.compose.foundation.layout.Row
import androidx.compose.foundation.layout.fillMaxWidth
import androidx.compose.foundation.layout.padding
import androidx.compose.foundation.selection.selectable
import androidx.compose.foundation.selection.selectableGroup
import androidx.compose.material3.Button
import androidx.compose.material3.HorizontalDivider
import androidx.compose.material3.MaterialTheme
import androidx.compose.material3.OutlinedTextField
import androidx.compose.material3.RadioButton
import androidx.compose.material3.Text
import androidx.compose.runtime.Composable
import androidx.compose.ui.Alignment
import androidx.compose.ui.Modifier
import androidx.compose.ui.platform.testTag
import androidx.compose.ui.semantics.Role
import androidx.compose.ui.unit.dp

/** The small building blocks every section uses, so the screens look and behave alike. */

@Composable
internal fun SectionTitle(text: String) {
    HorizontalDivider(Modifier.padding(top = 8.dp))
    Text(text, Modifier.padding(top = 4.dp), style = MaterialTheme.typography.titleMedium)
}

/** One of [options], or none: nothing is chosen until the technician chooses. */
@Composable
internal fun <T> RadioChoices(
    options: List<T>,
    selected: T?,
    onSelect: (T) -> Unit,
    label: (T) -> String,
    tag: (T) -> String,
) {
    Column(Modifier.selectableGroup()) {
        options.forEach { option ->
            Row(
                Modifier.fillMaxWidth()
                    .selectable(selected = option == selected, onClick = { onSelect(option) }, role = Role.RadioButton)
                    .testTag(tag(option))
                    .padding(vertical = 2.dp),
                verticalAlignment = Alignment.CenterVertically,
            ) {
                RadioButton(selected = option == selected, onClick = null)
                Text(label(option), Modifier.padding(start = 8.dp))
            }
        }
    }
}

/** A button for one action: disabled while another action is on its way. */
@Composable
internal fun ActionButton(text: String, tag: String, actions: JobActions, enabled: Boolean = true, onClick: () -> Unit) {
    Button(onClick, Modifier.testTag(tag), enabled = enabled && !actions.busy) { Text(text) }
}

@Composable
internal fun NoteField(value: String, onChange: (String) -> Unit, label: String, tag: String) {
    OutlinedTextField(value, onChange, Modifier.fillMaxWidth().testTag(tag), label = { Text(label) })
}
