//! Data across the boundary by serde: Python dicts, lists and scalars into the core's
//! `Deserialize` types (pythonize, through JSON-shaped data), the core's `Serialize` types out as
//! plain dicts (pythonize). The dict shapes are the TypedDicts of `canary_sdk/types.pyi`.

use pyo3::exceptions::PyException;
use pyo3::prelude::*;
use pyo3::PyTypeInfo;
use pythonize::{pythonize, Depythonizer};
use serde::de::{self, DeserializeOwned, MapAccess, SeqAccess, Visitor};
use serde::Serialize;
use serde::{Deserialize, Deserializer};
use serde_json::Value;

use crate::error::to_py_err;
use crate::runtime::attach;

/// `obj` as a `T`; a rejection is an invalid input at `field` plus the path inside `obj`
/// (`options.labels`), caused by the Python error behind it, if any.
///
/// Through JSON-shaped [`Data`] first: pythonize reads a bool as Python's truthiness (`"no"`
/// would be true) and `serde_json::Value` reads NaN as null (a bound would vanish); `Data` takes
/// only what JSON can say.
pub(crate) fn from_py<T: DeserializeOwned>(field: &str, obj: &Bound<'_, PyAny>) -> PyResult<T> {
    let py = obj.py();
    let data: Data = serde_path_to_error::deserialize(&mut Depythonizer::from_object(obj))
        .map_err(|e| {
            let (at, inner) = (at(field, e.path()), e.into_inner());
            let err = to_py_err(canary_core::Error::invalid(at, inner.to_string()));
            let cause = PyErr::from(inner);
            // A plain message is serde's own; anything else is Python's error, kept.
            if !cause.get_type(py).is(PyException::type_object(py)) {
                err.set_cause(py, Some(cause));
            }
            err
        })?;
    serde_path_to_error::deserialize(data.0).map_err(|e| {
        let at = at(field, e.path());
        to_py_err(canary_core::Error::invalid(at, e.into_inner().to_string()))
    })
}

fn at(field: &str, path: &serde_path_to_error::Path) -> String {
    match (field, path.to_string().as_str()) {
        (f, ".") => f.to_string(),
        ("", p) => p.to_string(),
        (f, p) => format!("{f}.{p}"),
    }
}

/// Plain data as JSON has it: null, bools, finite numbers, strings, lists, maps with string keys.
struct Data(Value);

impl<'de> Deserialize<'de> for Data {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(DataVisitor).map(Data)
    }
}

struct DataVisitor;

impl<'de> Visitor<'de> for DataVisitor {
    type Value = Value;
    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("plain data (None, bool, int, float, str, list, dict)")
    }
    fn visit_unit<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_none<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Value, E> {
        Ok(v.into())
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Value, E> {
        Ok(v.into())
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Value, E> {
        Ok(v.into())
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Value, E> {
        serde_json::Number::from_f64(v)
            .map(Value::Number)
            .ok_or_else(|| E::custom(format!("{v} is not a number JSON can say")))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Value, E> {
        Ok(v.into())
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Value, E> {
        Ok(v.into())
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut out = Vec::new();
        while let Some(Data(v)) = seq.next_element()? {
            out.push(v);
        }
        Ok(Value::Array(out))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut out = serde_json::Map::new();
        while let Some((k, Data(v))) = map.next_entry::<String, Data>()? {
            out.insert(k, v);
        }
        Ok(Value::Object(out))
    }
}

/// `obj` as a `T` when given (and not None), else `T::default()`.
pub(crate) fn from_py_or_default<T: DeserializeOwned + Default>(
    field: &str,
    obj: Option<&Bound<'_, PyAny>>,
) -> PyResult<T> {
    match obj.filter(|o| !o.is_none()) {
        Some(o) => from_py(field, o),
        None => Ok(T::default()),
    }
}

/// `value` as plain Python data, from one of the runtime's threads.
pub(crate) fn to_py<T: Serialize>(value: &T) -> PyResult<Py<PyAny>> {
    attach(|py| to_py_with(py, value))
}

/// [`to_py`] when the interpreter is already held.
pub(crate) fn to_py_with<T: Serialize>(py: Python<'_>, value: &T) -> PyResult<Py<PyAny>> {
    Ok(pythonize(py, value)?.unbind())
}
