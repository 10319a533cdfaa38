use std::cmp::PartialEq;
use std::collections::HashMap;
use std::fmt;
use thiserror::Error;

#[doc(inline)]
pub use crate::number::Number;

#[derive(Debug, Error)]
pub enum FuncError {
    #[error("unable to convert argument from value")]
    UnableToConvertFromValue,
    #[error("{0} requires at least {1} argument(s)")]
    AtLeastXArgs(String, usize),
    #[error("{0} requires exactly {1} argument(s)")]
    ExactlyXArgs(String, usize),
    #[error("{0}")]
    Generic(String),
    #[error(transparent)]
    Other(#[from] anyhow::Error),
}

/// Function type supported by `gtmpl_value`.
pub type Func = fn(&[Value]) -> Result<Value, FuncError>;

/// Wrapper struct for `Func`.
#[derive(Clone)]
pub struct Function {
    pub f: Func,
}

impl PartialEq for Function {
    fn eq(&self, other: &Function) -> bool {
        // Patched: compares the addresses, as before, without the lint on function-pointer equality.
        self.f as usize == other.f as usize
    }
}

impl fmt::Debug for Function {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Funtion")
    }
}

impl fmt::Display for Function {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Funtion")
    }
}

/// Represents a gtmpl value.
#[derive(Clone, PartialEq)]
pub enum Value {
    NoValue,
    Nil,
    Bool(bool),
    String(String),
    Object(HashMap<String, Value>),
    Map(HashMap<String, Value>),
    Array(Vec<Value>),
    Function(Function),
    Number(Number),
}

impl Value {
    pub fn from<T>(t: T) -> Self
    where
        T: Into<Value>,
    {
        t.into()
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Value::NoValue => write!(f, "<no value>"),
            Value::Nil => write!(f, "nil"),
            Value::Bool(ref b) => write!(f, "{}", b),
            Value::String(ref s) => write!(f, "{}", s),
            Value::Function(ref func) => write!(f, "{}", func),
            Value::Number(ref n) => write!(f, "{}", n),
            // Patched (see PATCHED.md): as Go's fmt prints `%v`, maps in sorted key order.
            Value::Array(ref a) => {
                write!(f, "[")?;
                for (i, v) in a.iter().enumerate() {
                    if i > 0 {
                        write!(f, " ")?;
                    }
                    write!(f, "{}", v)?;
                }
                write!(f, "]")
            }
            Value::Object(ref m) | Value::Map(ref m) => {
                write!(f, "map[")?;
                for (i, (k, v)) in sorted(m).into_iter().enumerate() {
                    if i > 0 {
                        write!(f, " ")?;
                    }
                    write!(f, "{}:{}", k, v)?;
                }
                write!(f, "]")
            }
        }
    }
}

/// Patched (see PATCHED.md): the derived form, with maps in sorted key order instead of the
/// `HashMap`'s, which changes from one process to the next.
impl fmt::Debug for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Value::NoValue => write!(f, "NoValue"),
            Value::Nil => write!(f, "Nil"),
            Value::Bool(ref b) => f.debug_tuple("Bool").field(b).finish(),
            Value::String(ref s) => f.debug_tuple("String").field(s).finish(),
            Value::Object(ref m) => f.debug_tuple("Object").field(&SortedMap(m)).finish(),
            Value::Map(ref m) => f.debug_tuple("Map").field(&SortedMap(m)).finish(),
            Value::Array(ref a) => f.debug_tuple("Array").field(a).finish(),
            Value::Function(ref func) => f.debug_tuple("Function").field(func).finish(),
            Value::Number(ref n) => f.debug_tuple("Number").field(n).finish(),
        }
    }
}

/// A map's entries in key order.
fn sorted(m: &HashMap<String, Value>) -> Vec<(&String, &Value)> {
    let mut entries: Vec<(&String, &Value)> = m.iter().collect();
    entries.sort_unstable_by(|a, b| a.0.cmp(b.0));
    entries
}

/// Debug-prints a map in key order.
struct SortedMap<'a>(&'a HashMap<String, Value>);

impl fmt::Debug for SortedMap<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(sorted(self.0)).finish()
    }
}
