//! Deserializing enums written as single-key maps (`- apply: {...}`, `phase: {...}`): serde_yaml 0.9
//! reads externally tagged enums only from YAML tags (`!apply`), so the scenario language's enums use
//! this visitor instead. It keeps serde_yaml's positions in errors and rejects unknown keys and maps
//! with more than one key.

/// Implement `Deserialize` (and `JsonSchema`: one of single-key maps) for an enum of newtype variants
/// keyed by a map's single key.
#[macro_export]
macro_rules! keyed_enum {
    ($ty:ident, $expecting:literal, { $( $key:literal => $variant:ident($inner:ty) ),* $(,)? }) => {
        impl<'de> serde::Deserialize<'de> for $ty {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                struct V;
                impl<'de> serde::de::Visitor<'de> for V {
                    type Value = $ty;
                    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                        f.write_str($expecting)
                    }
                    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<$ty, A::Error> {
                        const KEYS: &[&str] = &[$($key),*];
                        let key: String = match map.next_key()? {
                            Some(k) => k,
                            None => return Err(serde::de::Error::custom(format!("expected one of {}", KEYS.join(", ")))),
                        };
                        let value = match key.as_str() {
                            $( $key => $ty::$variant(map.next_value::<$inner>()?), )*
                            other => return Err(serde::de::Error::unknown_variant(other, KEYS)),
                        };
                        if let Some(extra) = map.next_key::<String>()? {
                            return Err(serde::de::Error::custom(format!(
                                "`{key}` and `{extra}` in the same item: write one per item (a `-` list entry each)"
                            )));
                        }
                        Ok(value)
                    }
                }
                d.deserialize_map(V)
            }
        }

        impl schemars::JsonSchema for $ty {
            fn schema_name() -> std::borrow::Cow<'static, str> {
                stringify!($ty).into()
            }
            fn json_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
                let one_of: Vec<serde_json::Value> = vec![$(
                    serde_json::json!({
                        "type": "object",
                        "properties": { $key: generator.subschema_for::<$inner>() },
                        "required": [$key],
                        "additionalProperties": false,
                    }),
                )*];
                schemars::json_schema!({ "description": $expecting, "oneOf": one_of })
            }
        }
    };
}
