//! Plain conversions: durations, and JSON-shaped data (serde values) to and from Python objects.

use std::time::Duration;

use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDict, PyFloat, PyInt, PyList, PyString, PyTuple};
use serde::Serialize;
use serde_json::Value;

use crate::error::{at_field, invalid, to_py_err};

/// A duration given as seconds (`int`/`float`), a `datetime.timedelta`, or text like `"30s"`.
pub(crate) fn duration(field: &str, obj: &Bound<'_, PyAny>) -> PyResult<Duration> {
    if let Ok(s) = obj.cast::<PyString>() {
        return canary_core::HumanDuration::parse(&s.to_cow()?)
            .map(|d| d.0)
            .map_err(|e| at_field(field, e));
    }
    let secs: f64 = if obj.is_instance_of::<PyBool>() {
        return Err(invalid(
            field,
            "a duration is seconds, a timedelta or text like \"30s\"",
        ));
    } else if obj.is_instance_of::<PyInt>() || obj.is_instance_of::<PyFloat>() {
        obj.extract()?
    } else if obj.hasattr("total_seconds")? {
        obj.call_method0("total_seconds")?.extract()?
    } else {
        return Err(invalid(
            field,
            format!(
                "{} is not a duration (seconds, a timedelta or text like \"30s\")",
                obj.get_type().name()?
            ),
        ));
    };
    Duration::try_from_secs_f64(secs).map_err(|_| {
        invalid(
            field,
            format!("{secs} is not a duration of zero or more seconds"),
        )
    })
}

/// An optional duration argument.
pub(crate) fn opt_duration(
    field: &str,
    obj: Option<&Bound<'_, PyAny>>,
) -> PyResult<Option<Duration>> {
    obj.filter(|o| !o.is_none())
        .map(|o| duration(field, o))
        .transpose()
}

/// A serde value as plain Python data (dict, list, str, int, float, bool, None).
pub(crate) fn json_to_py<'py>(py: Python<'py>, v: &Value) -> PyResult<Bound<'py, PyAny>> {
    Ok(match v {
        Value::Null => py.None().into_bound(py),
        Value::Bool(b) => PyBool::new(py, *b).to_owned().into_any(),
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                i.into_pyobject(py)?.into_any()
            } else if let Some(u) = n.as_u64() {
                u.into_pyobject(py)?.into_any()
            } else {
                n.as_f64().unwrap_or(f64::NAN).into_pyobject(py)?.into_any()
            }
        }
        Value::String(s) => PyString::new(py, s).into_any(),
        Value::Array(a) => {
            let items = a
                .iter()
                .map(|x| json_to_py(py, x))
                .collect::<PyResult<Vec<_>>>()?;
            PyList::new(py, items)?.into_any()
        }
        Value::Object(o) => {
            let d = PyDict::new(py);
            for (k, x) in o {
                d.set_item(k, json_to_py(py, x)?)?;
            }
            d.into_any()
        }
    })
}

/// Any serializable core value as plain Python data, in the same camelCase shape as the CLI's JSON.
pub(crate) fn to_py_data<'py, T: Serialize>(py: Python<'py>, v: &T) -> PyResult<Bound<'py, PyAny>> {
    let value = serde_json::to_value(v).map_err(|e| {
        to_py_err(canary_core::Error::Internal(format!(
            "cannot serialize a value: {e}"
        )))
    })?;
    json_to_py(py, &value)
}

/// Plain Python data (dict, list, tuple, str, int, float, bool, None) as a serde value; `path`
/// names the place of a bad value in the error.
pub(crate) fn py_to_json(obj: &Bound<'_, PyAny>, path: &str) -> PyResult<Value> {
    if obj.is_none() {
        return Ok(Value::Null);
    }
    if let Ok(b) = obj.cast::<PyBool>() {
        return Ok(Value::Bool(b.is_true()));
    }
    if obj.is_instance_of::<PyInt>() {
        if let Ok(i) = obj.extract::<i64>() {
            return Ok(Value::from(i));
        }
        if let Ok(u) = obj.extract::<u64>() {
            return Ok(Value::from(u));
        }
        return Err(invalid(path, "the integer is too large"));
    }
    if let Ok(f) = obj.cast::<PyFloat>() {
        return serde_json::Number::from_f64(f.value())
            .map(Value::Number)
            .ok_or_else(|| invalid(path, "NaN and infinities are not allowed"));
    }
    if let Ok(s) = obj.cast::<PyString>() {
        return Ok(Value::String(s.to_cow()?.to_string()));
    }
    if let Ok(d) = obj.cast::<PyDict>() {
        let mut out = serde_json::Map::new();
        for (k, v) in d.iter() {
            let key = k
                .cast::<PyString>()
                .map_err(|_| invalid(path, format!("a key is {}, not a string", type_name(&k))))?;
            let key = key.to_cow()?.into_owned();
            let child = if path.is_empty() {
                key.clone()
            } else {
                format!("{path}.{key}")
            };
            out.insert(key, py_to_json(&v, &child)?);
        }
        return Ok(Value::Object(out));
    }
    if obj.is_instance_of::<PyList>() || obj.is_instance_of::<PyTuple>() {
        let mut out = Vec::new();
        for (i, item) in obj.try_iter()?.enumerate() {
            out.push(py_to_json(&item?, &format!("{path}[{i}]"))?);
        }
        return Ok(Value::Array(out));
    }
    Err(invalid(
        path,
        format!(
            "{} is not plain data (dict, list, str, int, float, bool, None)",
            type_name(obj)
        ),
    ))
}

fn type_name(obj: &Bound<'_, PyAny>) -> String {
    obj.get_type()
        .name()
        .map(|n| n.to_string())
        .unwrap_or_else(|_| "?".into())
}

/// A string-to-string mapping argument (labels, env).
pub(crate) fn str_map(
    field: &str,
    obj: Option<&Bound<'_, PyAny>>,
) -> PyResult<std::collections::BTreeMap<String, String>> {
    let mut out = std::collections::BTreeMap::new();
    let Some(obj) = obj.filter(|o| !o.is_none()) else {
        return Ok(out);
    };
    let d = obj
        .cast::<PyDict>()
        .map_err(|_| invalid(field, "expected a dict of str to str"))?;
    for (k, v) in d.iter() {
        let (Ok(k), Ok(v)) = (k.extract::<String>(), v.extract::<String>()) else {
            return Err(invalid(field, "expected a dict of str to str"));
        };
        out.insert(k, v);
    }
    Ok(out)
}
