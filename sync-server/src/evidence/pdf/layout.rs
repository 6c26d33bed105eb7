//! Just enough page layout for a report: wrapped text in two fonts, tables, pictures, page
//! breaks and a footer on each page. It knows nothing of jobs.
//!
//! Fonts: Latin text in Helvetica and everything else in STSong-Light (Adobe-GB1, through
//! the predefined `UniGB-UTF16-H` CMap). Both are standard fonts every PDF reader provides,
//! so nothing is embedded and a report stays small; a `ToUnicode` map for the Chinese font
//! keeps the text searchable and copyable.

use std::collections::BTreeSet;

use pdf_writer::types::{CidFontType, FontFlags, SystemInfo, UnicodeCmap};
use pdf_writer::{Content, Filter, Finish, Name, Pdf, Rect, Ref, Str, TextStr};

pub const PAGE_W: f32 = 595.0;
pub const PAGE_H: f32 = 842.0;
pub const MARGIN: f32 = 48.0;
pub const TEXT_W: f32 = PAGE_W - 2.0 * MARGIN;
const FOOTER: f32 = 28.0;

const LATIN: Name<'static> = Name(b"F1");
const CJK: Name<'static> = Name(b"F2");
const GB1: SystemInfo<'static> = SystemInfo {
    registry: Str(b"Adobe"),
    ordering: Str(b"GB1"),
    supplement: 4,
};

/// Helvetica's advance widths (its AFM), for ' ' to '~', in 1/1000 em.
const HELVETICA: [u16; 95] = [
    278, 278, 355, 556, 556, 889, 667, 191, 333, 333, 389, 584, 278, 333, 278, 278, 556, 556, 556,
    556, 556, 556, 556, 556, 556, 556, 278, 278, 584, 584, 584, 556, 1015, 667, 667, 722, 722, 667,
    611, 778, 722, 278, 500, 667, 556, 833, 722, 778, 667, 778, 722, 667, 611, 722, 667, 944, 667,
    667, 611, 278, 278, 278, 469, 556, 333, 556, 556, 500, 556, 556, 278, 556, 556, 222, 222, 500,
    222, 833, 556, 556, 556, 556, 333, 500, 278, 556, 500, 722, 500, 500, 500, 334, 260, 334, 584,
];

/// A character as the report prints it: control characters and those outside the Basic
/// Multilingual Plane (the Chinese font's CMap takes UTF-16 code units one by one) become '?'.
fn printable(c: char) -> char {
    if c.is_control() || (c as u32) > 0xFFFF {
        '?'
    } else {
        c
    }
}

/// The byte and width of `c` in Helvetica's WinAnsi encoding: ASCII and the punctuation the
/// report uses; everything else goes to the Chinese font.
fn latin(c: char) -> Option<(u8, u16)> {
    Some(match c {
        ' '..='~' => (c as u8, HELVETICA[c as usize - 32]),
        '·' => (0xB7, 278),
        '±' => (0xB1, 584),
        '°' => (0xB0, 400),
        '–' => (0x96, 556),
        '—' => (0x97, 1000),
        '•' => (0x95, 350),
        '…' => (0x85, 1000),
        _ => return None,
    })
}

fn advance(c: char) -> f32 {
    latin(c).map_or(1000.0, |(_, w)| f32::from(w))
}

/// The width of `s` at `size` points.
pub fn width(s: &str, size: f32) -> f32 {
    s.chars().map(|c| advance(printable(c))).sum::<f32>() * size / 1000.0
}

/// `s` broken into lines no wider than `max`: at spaces in Latin text, between any two
/// characters in Chinese, and inside a word only when one word is wider than a line.
pub fn wrap(s: &str, size: f32, max: f32) -> Vec<String> {
    let mut lines = Vec::new();
    for para in s.split('\n') {
        let mut line = String::new();
        let mut line_w = 0.0;
        // The last place the line may break (a byte index in `line`).
        let mut brk: Option<usize> = None;
        for c in para.chars().map(printable) {
            let w = advance(c) * size / 1000.0;
            while line_w + w > max && !line.is_empty() {
                match brk {
                    Some(at) if at > 0 => {
                        let rest = line.split_off(at);
                        lines.push(line.trim_end().to_string());
                        line = rest.trim_start().to_string();
                        line_w = width(&line, size);
                    }
                    _ => {
                        lines.push(std::mem::take(&mut line));
                        line_w = 0.0;
                    }
                }
                brk = None;
            }
            line.push(c);
            line_w += w;
            if c == ' ' || !c.is_ascii() {
                brk = Some(line.len());
            }
        }
        lines.push(line.trim_end().to_string());
    }
    lines
}

/// A picture on a page: JPEG bytes and their pixel size.
#[derive(Debug)]
pub struct Picture {
    pub jpeg: Vec<u8>,
    pub width: u32,
    pub height: u32,
}

/// A document being laid out top to bottom.
pub struct Doc {
    pages: Vec<(Content, Vec<usize>)>,
    y: f32,
    pictures: Vec<Picture>,
    /// The non-Latin characters printed, for the Chinese font's `ToUnicode` map.
    used: BTreeSet<char>,
    title: String,
}

impl std::fmt::Debug for Doc {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Doc")
            .field("pages", &self.pages.len())
            .finish_non_exhaustive()
    }
}

impl Doc {
    pub fn new(title: &str) -> Doc {
        let mut d = Doc {
            pages: Vec::new(),
            y: 0.0,
            pictures: Vec::new(),
            used: BTreeSet::new(),
            title: title.to_string(),
        };
        d.new_page();
        d
    }

    fn new_page(&mut self) {
        self.pages.push((Content::new(), Vec::new()));
        self.y = PAGE_H - MARGIN;
    }

    fn content(&mut self) -> &mut Content {
        &mut self.pages.last_mut().expect("a page").0
    }

    /// Room for `h` points more on this page, or a new page.
    pub fn ensure(&mut self, h: f32) {
        if self.y - h < MARGIN + FOOTER {
            self.new_page();
        }
    }

    pub fn gap(&mut self, h: f32) {
        self.y -= h;
    }

    /// One line of text on the current page with its baseline at `y`.
    fn text_at(&mut self, x: f32, y: f32, size: f32, s: &str, grey: bool) {
        self.text_on(self.pages.len() - 1, x, y, size, s, grey);
    }

    /// One line of text on page `page`, in as many font runs as it needs.
    fn text_on(&mut self, page: usize, x: f32, y: f32, size: f32, s: &str, grey: bool) {
        let mut runs: Vec<(bool, String)> = Vec::new();
        for c in s.chars().map(printable) {
            let is_latin = latin(c).is_some();
            if !is_latin {
                self.used.insert(c);
            }
            match runs.last_mut() {
                Some((l, run)) if *l == is_latin => run.push(c),
                _ => runs.push((is_latin, c.to_string())),
            }
        }
        let content = &mut self.pages[page].0;
        content.begin_text();
        if grey {
            content.set_fill_gray(0.35);
        }
        content.next_line(x, y);
        for (is_latin, run) in runs {
            if is_latin {
                content.set_font(LATIN, size);
                let bytes: Vec<u8> = run.chars().filter_map(|c| latin(c).map(|l| l.0)).collect();
                content.show(Str(&bytes));
            } else {
                content.set_font(CJK, size);
                let utf16: Vec<u8> = run.encode_utf16().flat_map(u16::to_be_bytes).collect();
                content.show(Str(&utf16));
            }
        }
        if grey {
            content.set_fill_gray(0.0);
        }
        content.end_text();
    }

    /// Wrapped text at `indent`, `size` points, moving down the page.
    pub fn para(&mut self, s: &str, size: f32, indent: f32) {
        for line in wrap(s, size, TEXT_W - indent) {
            self.ensure(size * 1.35);
            self.y -= size * 1.35;
            let y = self.y;
            self.text_at(MARGIN + indent, y, size, &line, false);
        }
    }

    pub fn title(&mut self, s: &str) {
        self.para(s, 17.0, 0.0);
        self.gap(4.0);
    }

    /// A section heading with a rule under it; kept with at least a few lines after it.
    pub fn heading(&mut self, s: &str) {
        self.ensure(60.0);
        self.gap(10.0);
        self.para(s, 12.5, 0.0);
        self.gap(3.0);
        let y = self.y;
        let c = self.content();
        c.set_line_width(0.6);
        c.move_to(MARGIN, y);
        c.line_to(PAGE_W - MARGIN, y);
        c.stroke();
        self.gap(4.0);
    }

    /// A label and its value, the value wrapped in the column beside the label.
    pub fn field(&mut self, label: &str, value: &str) {
        self.table(
            &[130.0, TEXT_W - 130.0],
            &[],
            &[vec![label.into(), value.into()]],
            9.5,
        );
    }

    /// Rows of cells in columns `widths` wide, with a grey header row when `header` is not
    /// empty (repeated after a page break). A row moves to the next page rather than split,
    /// unless it is taller than a page: then it goes on over as many pages as it needs.
    pub fn table(&mut self, widths: &[f32], header: &[&str], rows: &[Vec<String>], size: f32) {
        let line_h = size * 1.3;
        let wrapped = |cells: &[String]| -> Vec<Vec<String>> {
            cells
                .iter()
                .zip(widths)
                .map(|(s, w)| wrap(s, size, w - 4.0))
                .collect()
        };
        let lines = |cells: &[Vec<String>]| cells.iter().map(Vec::len).max().unwrap_or(1).max(1);
        let header: Vec<String> = header.iter().map(|s| s.to_string()).collect();
        let head = (!header.is_empty()).then(|| wrapped(&header));
        let head_h = head
            .as_ref()
            .map_or(0.0, |h| lines(h) as f32 * line_h + 3.0);
        // The room a fresh page has for rows, under the header.
        let page_room = PAGE_H - 2.0 * MARGIN - FOOTER - head_h - 3.0;
        let mut header_due = true;
        for row in rows {
            let cells = wrapped(row);
            let total = lines(&cells);
            let h = total as f32 * line_h + 3.0;
            let before = self.pages.len();
            if h <= page_room {
                self.ensure(h + if header_due { head_h } else { 0.0 });
            } else {
                self.ensure(head_h + line_h * 3.0 + 3.0);
            }
            header_due |= self.pages.len() != before;
            let mut from = 0;
            while from < total {
                if header_due {
                    if let Some(hc) = &head {
                        self.row(widths, hc, size, line_h, head_h, true);
                    }
                    header_due = false;
                }
                let room = self.y - (MARGIN + FOOTER) - 3.0;
                let fit = ((room / line_h).floor() as usize).clamp(1, total - from);
                let part: Vec<Vec<String>> = cells
                    .iter()
                    .map(|c| c.iter().skip(from).take(fit).cloned().collect())
                    .collect();
                self.row(
                    widths,
                    &part,
                    size,
                    line_h,
                    fit as f32 * line_h + 3.0,
                    false,
                );
                from += fit;
                if from < total {
                    self.new_page();
                    header_due = true;
                }
            }
        }
    }

    fn row(
        &mut self,
        widths: &[f32],
        cells: &[Vec<String>],
        size: f32,
        line_h: f32,
        h: f32,
        grey: bool,
    ) {
        let top = self.y;
        let mut x = MARGIN;
        for (lines, w) in cells.iter().zip(widths) {
            for (i, line) in lines.iter().enumerate() {
                let y = top - line_h * (i as f32 + 1.0) + 1.0;
                self.text_at(x, y, size, line, grey);
            }
            x += w;
        }
        self.y = top - h;
        let y = self.y + 1.0;
        let c = self.content();
        c.set_line_width(0.2);
        c.set_stroke_gray(0.75);
        c.move_to(MARGIN, y);
        c.line_to(PAGE_W - MARGIN, y);
        c.stroke();
        c.set_stroke_gray(0.0);
    }

    /// Pictures in a grid of `cols` per row, each fitted in a square cell, with its caption
    /// lines under it.
    pub fn pictures(&mut self, items: Vec<(Option<Picture>, Vec<String>)>, cols: usize) {
        let gap = 10.0;
        let cell = (TEXT_W - gap * (cols as f32 - 1.0)) / cols as f32;
        let size = 7.5;
        for row in items.chunks(cols.max(1)) {
            let caption_lines = row
                .iter()
                .map(|(_, c)| c.iter().map(|l| wrap(l, size, cell).len()).sum::<usize>())
                .max()
                .unwrap_or(0);
            let h = cell + caption_lines as f32 * size * 1.3 + gap;
            self.ensure(h);
            let top = self.y;
            for (i, (pic, caption)) in row.iter().enumerate() {
                let x = MARGIN + i as f32 * (cell + gap);
                match pic {
                    Some(p) => self.picture(p, x, top - cell, cell),
                    None => {
                        let c = self.content();
                        c.set_line_width(0.4);
                        c.rect(x, top - cell, cell, cell);
                        c.stroke();
                    }
                }
                let mut y = top - cell;
                for line in caption.iter().flat_map(|l| wrap(l, size, cell)) {
                    y -= size * 1.3;
                    self.text_at(x, y, size, &line, false);
                }
            }
            self.y = top - h;
        }
    }

    /// Place `p` fitted into the square at (`x`, `y`) with side `side`.
    fn picture(&mut self, p: &Picture, x: f32, y: f32, side: f32) {
        let (w, h) = (p.width.max(1) as f32, p.height.max(1) as f32);
        let scale = (side / w).min(side / h);
        let (dw, dh) = (w * scale, h * scale);
        let index = self.pictures.len();
        self.pictures.push(Picture {
            jpeg: p.jpeg.clone(),
            width: p.width,
            height: p.height,
        });
        let name = format!("Im{index}");
        let page = self.pages.last_mut().expect("a page");
        page.1.push(index);
        let c = &mut page.0;
        c.save_state();
        c.transform([
            dw,
            0.0,
            0.0,
            dh,
            x + (side - dw) / 2.0,
            y + (side - dh) / 2.0,
        ]);
        c.x_object(Name(name.as_bytes()));
        c.restore_state();
    }

    /// The PDF's bytes, each page with a footer: the title, "n / N" and `note`.
    pub fn finish(mut self, note: &str) -> Vec<u8> {
        let total = self.pages.len();
        for n in 0..total {
            let footer = format!("{} · {} / {} · {}", self.title, n + 1, total, note);
            let line = wrap(&footer, 7.5, TEXT_W)
                .into_iter()
                .next()
                .unwrap_or_default();
            self.text_on(n, MARGIN, MARGIN - 10.0, 7.5, &line, true);
        }

        let mut pdf = Pdf::new();
        let mut next = 1;
        let mut alloc = || {
            let r = Ref::new(next);
            next += 1;
            r
        };
        let (catalog, tree, info) = (alloc(), alloc(), alloc());
        let (latin, cjk, cid, descriptor, to_unicode) =
            (alloc(), alloc(), alloc(), alloc(), alloc());
        let picture_refs: Vec<Ref> = self.pictures.iter().map(|_| alloc()).collect();
        let page_refs: Vec<(Ref, Ref)> = self.pages.iter().map(|_| (alloc(), alloc())).collect();

        pdf.catalog(catalog).pages(tree);
        pdf.pages(tree)
            .kids(page_refs.iter().map(|p| p.0))
            .count(page_refs.len() as i32);
        pdf.document_info(info)
            .title(TextStr(&self.title))
            .producer(TextStr("fieldcore"));
        for ((content, pics), (page_ref, content_ref)) in self.pages.into_iter().zip(&page_refs) {
            let mut page = pdf.page(*page_ref);
            page.media_box(Rect::new(0.0, 0.0, PAGE_W, PAGE_H));
            page.parent(tree);
            page.contents(*content_ref);
            let mut res = page.resources();
            res.fonts().pair(LATIN, latin).pair(CJK, cjk);
            let mut xo = res.x_objects();
            for i in pics {
                let name = format!("Im{i}");
                xo.pair(Name(name.as_bytes()), picture_refs[i]);
            }
            xo.finish();
            res.finish();
            page.finish();
            pdf.stream(*content_ref, &content.finish());
        }
        for (p, r) in self.pictures.iter().zip(&picture_refs) {
            let mut image = pdf.image_xobject(*r, &p.jpeg);
            image.filter(Filter::DctDecode);
            image.width(p.width as i32);
            image.height(p.height as i32);
            image.color_space().device_rgb();
            image.bits_per_component(8);
        }

        pdf.type1_font(latin)
            .base_font(Name(b"Helvetica"))
            .encoding_predefined(Name(b"WinAnsiEncoding"));
        pdf.type0_font(cjk)
            .base_font(Name(b"STSong-Light-UniGB-UTF16-H"))
            .encoding_predefined(Name(b"UniGB-UTF16-H"))
            .descendant_font(cid)
            .to_unicode(to_unicode);
        pdf.cid_font(cid)
            .subtype(CidFontType::Type0)
            .base_font(Name(b"STSong-Light"))
            .system_info(GB1)
            .font_descriptor(descriptor)
            .default_width(1000.0);
        // STSong-Light's metrics as the PDF reference's CJK examples give them.
        pdf.font_descriptor(descriptor)
            .name(Name(b"STSong-Light"))
            .flags(FontFlags::SYMBOLIC)
            .bbox(Rect::new(-25.0, -254.0, 1000.0, 880.0))
            .italic_angle(0.0)
            .ascent(880.0)
            .descent(-120.0)
            .cap_height(880.0)
            .stem_v(93.0);
        let mut cmap = UnicodeCmap::new(Name(b"Fieldcore-UTF16"), GB1);
        for c in &self.used {
            let mut unit = [0u16; 2];
            if let [u] = c.encode_utf16(&mut unit) {
                cmap.pair(*u, *c);
            }
        }
        pdf.cmap(to_unicode, &cmap.finish());
        pdf.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Any text a phone or the desk could send is laid out: no panic, no line wider than
        /// the column unless it is one character, nothing lost but the spaces at breaks.
        #[test]
        fn any_text_wraps_within_its_column_and_loses_nothing(
            s in "\\PC{0,200}|[ a-zA-Z上海市\n]{0,200}",
            size in 5.0f32..20.0,
            max in 20.0f32..500.0,
        ) {
            let lines = wrap(&s, size, max);
            for l in &lines {
                prop_assert!(width(l, size) <= max || l.chars().count() == 1, "{l:?}");
            }
            let kept: String = lines.concat().chars().filter(|c| !c.is_whitespace()).collect();
            let given: String =
                s.split('\n').flat_map(str::chars).map(printable).filter(|c| !c.is_whitespace()).collect();
            prop_assert_eq!(kept, given);
        }
    }

    #[test]
    fn a_row_taller_than_a_page_goes_on_over_the_next_pages() {
        let note: String = (0..300).map(|i| format!("line {i}\n")).collect();
        let mut d = Doc::new("tall");
        d.table(
            &[100.0, TEXT_W - 100.0],
            &["What", "Note"],
            &[vec!["call".into(), note]],
            8.0,
        );
        // 300 lines of 10.4 pt: about four pages of 700 pt.
        assert!(d.pages.len() >= 4, "{} pages", d.pages.len());
        let pdf = d.finish("test");
        assert!(pdf.starts_with(b"%PDF-"));
    }

    #[test]
    fn lines_break_at_spaces_between_chinese_characters_and_inside_overlong_words() {
        let lines = wrap("the quick brown fox jumps", 10.0, 60.0);
        assert!(lines.len() > 1, "{lines:?}");
        assert!(lines.iter().all(|l| width(l, 10.0) <= 60.0), "{lines:?}");
        assert_eq!(lines.join(" "), "the quick brown fox jumps");
        let zh = wrap("上海市浦东新区世纪大道一百号", 10.0, 50.0);
        assert_eq!(zh.concat(), "上海市浦东新区世纪大道一百号");
        assert!(zh.iter().all(|l| l.chars().count() <= 5), "{zh:?}");
        let long = wrap(&"a".repeat(100), 10.0, 50.0);
        assert!(long.len() > 1 && long.iter().all(|l| width(l, 10.0) <= 50.0));
        assert_eq!(wrap("a\nb", 10.0, 100.0), vec!["a", "b"]);
        assert_eq!(wrap("bell\u{7}😀", 10.0, 100.0), vec!["bell??"]);
    }
}
