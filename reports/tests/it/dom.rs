//! A minimal DOM over quick-xml, so tests check what an XML parser (a CI system's) reads back, with
//! every escape undone, rather than searching the raw text.

use quick_xml::events::Event;
use quick_xml::{Reader, XmlVersion};
use std::collections::BTreeMap;

/// An element.
#[derive(Debug, Default)]
pub struct Element {
    pub name: String,
    pub attrs: BTreeMap<String, String>,
    pub children: Vec<Element>,
    /// Text directly inside, concatenated.
    pub text: String,
}

impl Element {
    /// The attribute, or a panic naming it.
    pub fn attr(&self, name: &str) -> &str {
        self.attrs.get(name).unwrap_or_else(|| panic!("<{}> has no attribute {name}: {:?}", self.name, self.attrs))
    }

    /// Direct children named `name`.
    pub fn all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Element> + 'a {
        self.children.iter().filter(move |c| c.name == name)
    }

    /// The one direct child named `name`.
    pub fn one(&self, name: &str) -> &Element {
        let found: Vec<&Element> = self.children.iter().filter(|c| c.name == name).collect();
        assert_eq!(found.len(), 1, "<{}> should have one <{name}>, has {}", self.name, found.len());
        found[0]
    }

    /// `<property name=... value=...>` children of `<properties>`, as a map.
    pub fn properties(&self) -> BTreeMap<String, String> {
        self.one("properties").all("property").map(|p| (p.attr("name").to_string(), p.attr("value").to_string())).collect()
    }
}

/// Parse a whole document (panics, with the parser's message, when it is not well-formed XML) and
/// return its root element.
pub fn parse(xml: &str) -> Element {
    let mut reader = Reader::from_str(xml);
    let mut stack: Vec<Element> = vec![Element::default()];
    loop {
        let event = reader.read_event().unwrap_or_else(|e| panic!("not well-formed at byte {}: {e}\n{xml}", reader.buffer_position()));
        match event {
            ref ev @ (Event::Start(ref e) | Event::Empty(ref e)) => {
                let empty = matches!(ev, Event::Empty(_));
                let mut el = Element { name: e.name().as_ref().to_string(), ..Default::default() };
                for a in e.attributes() {
                    let a = a.expect("well-formed attribute");
                    // As an XML parser reads it: entities resolved, literal line breaks normalized.
                    let value = a.normalized_value(XmlVersion::Implicit1_0).expect("attribute value unescapes").into_owned();
                    let key = a.key.as_ref().to_string();
                    assert!(el.attrs.insert(key.clone(), value).is_none(), "duplicate attribute {key}");
                }
                if empty {
                    stack.last_mut().unwrap().children.push(el);
                } else {
                    stack.push(el);
                }
            }
            Event::End(_) => {
                let el = stack.pop().unwrap();
                stack.last_mut().expect("an end tag closes an open element").children.push(el);
            }
            Event::Text(t) => stack.last_mut().unwrap().text.push_str(&t.xml10_content()),
            Event::CData(t) => stack.last_mut().unwrap().text.push_str(&t.xml10_content()),
            Event::GeneralRef(r) => {
                let c = match r.resolve_char_ref().expect("valid character reference") {
                    Some(c) => c.to_string(),
                    None => {
                        quick_xml::escape::resolve_predefined_entity(&r).unwrap_or_else(|| panic!("unknown entity &{};", &*r)).to_string()
                    }
                };
                stack.last_mut().unwrap().text.push_str(&c);
            }
            Event::Eof => break,
            _ => {}
        }
    }
    let mut document = stack.pop().unwrap();
    assert!(stack.is_empty(), "unclosed elements");
    assert_eq!(document.children.len(), 1, "one root element");
    assert!(document.text.trim().is_empty(), "no text outside the root: {:?}", document.text);
    document.children.pop().unwrap()
}
