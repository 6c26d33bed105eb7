//! The conduct checklist: items a technician confirms during the visit (domain.md).
//!
//! The default template ships as data (`data/checklist-default.json`) because organisations edit
//! it: the code only knows that items have ids, phases and a required flag. A template carries a
//! version so an answer can always be read against the template it was given to.

use serde::{Deserialize, Serialize};

use super::refusal::Lang;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    BeforeEntering,
    During,
    Finishing,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ChecklistItem {
    pub id: String,
    pub phase: Phase,
    pub required: bool,
    pub en: String,
    pub zh_cn: String,
    /// Where the rule comes from in the service standards.
    #[serde(default)]
    pub source: String,
}

impl ChecklistItem {
    pub fn text(&self, lang: Lang) -> &str {
        match lang {
            Lang::En => &self.en,
            Lang::ZhCn => &self.zh_cn,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ChecklistTemplate {
    pub id: String,
    pub version: u32,
    pub items: Vec<ChecklistItem>,
}

const DEFAULT_JSON: &str = include_str!("../../data/checklist-default.json");

impl ChecklistTemplate {
    /// The template every organisation starts from.
    pub fn default_template() -> Self {
        // The file is part of the crate and a unit test parses it, so this cannot fail at run time.
        serde_json::from_str(DEFAULT_JSON).expect("the bundled checklist template is valid JSON")
    }

    pub fn item(&self, id: &str) -> Option<&ChecklistItem> {
        self.items.iter().find(|i| i.id == id)
    }

    pub fn required(&self) -> impl Iterator<Item = &ChecklistItem> {
        self.items.iter().filter(|i| i.required)
    }
}

impl Default for ChecklistTemplate {
    fn default() -> Self {
        Self::default_template()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_template_is_complete_and_bilingual() {
        let t = ChecklistTemplate::default_template();
        assert_eq!(t.version, 1);
        for phase in [Phase::BeforeEntering, Phase::During, Phase::Finishing] {
            assert!(
                t.items.iter().any(|i| i.phase == phase),
                "{phase:?} has no items"
            );
        }
        let mut ids: Vec<&str> = t.items.iter().map(|i| i.id.as_str()).collect();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), t.items.len(), "item ids must be unique");
        for i in &t.items {
            assert!(
                !i.en.trim().is_empty() && !i.zh_cn.trim().is_empty(),
                "{}",
                i.id
            );
            assert!(
                i.zh_cn
                    .chars()
                    .any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c)),
                "{}",
                i.id
            );
        }
        assert!(t.item("code_asked_now").is_some_and(|i| i.required));
    }
}
