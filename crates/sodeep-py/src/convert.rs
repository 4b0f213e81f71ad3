//! NumPy arrays ↔ candle tensors, and sodeep errors → Python `ValueError`.
//!
//! A C-contiguous float32 or float64 array is read in place and copied once, into the
//! tensor's storage (candle's CPU tensors own their memory). Results come back as new arrays
//! that own their data, so NumPy and PyTorch wrap them without another copy.

use candle_core::{DType, Device, Tensor};
use numpy::{PyArrayDyn, PyArrayMethods, PyUntypedArrayMethods};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;

/// A library error as the `ValueError` Python users expect from bad input.
pub fn value_error(e: impl std::fmt::Display) -> PyErr {
    PyValueError::new_err(e.to_string())
}

/// A float32 or float64 NumPy array as a tensor of the same dtype and shape.
pub fn to_tensor(array: &Bound<'_, PyAny>, what: &str) -> PyResult<Tensor> {
    if let Ok(a) = array.downcast::<PyArrayDyn<f64>>() {
        let a = a.try_readonly().map_err(value_error)?;
        let shape = a.shape().to_vec();
        let data = a.as_slice().map_err(|_| not_contiguous(what))?;
        return Tensor::from_slice(data, shape, &Device::Cpu).map_err(value_error);
    }
    if let Ok(a) = array.downcast::<PyArrayDyn<f32>>() {
        let a = a.try_readonly().map_err(value_error)?;
        let shape = a.shape().to_vec();
        let data = a.as_slice().map_err(|_| not_contiguous(what))?;
        return Tensor::from_slice(data, shape, &Device::Cpu).map_err(value_error);
    }
    Err(PyValueError::new_err(format!(
        "{what} must be a float32 or float64 array"
    )))
}

fn not_contiguous(what: &str) -> PyErr {
    PyValueError::new_err(format!(
        "{what} must be C-contiguous (numpy.ascontiguousarray makes it so)"
    ))
}

/// A tensor as a new NumPy array of its dtype and shape.
pub fn to_numpy(py: Python<'_>, t: &Tensor) -> PyResult<PyObject> {
    let shape = t.dims().to_vec();
    let flat = t.flatten_all().map_err(value_error)?;
    let array = match t.dtype() {
        DType::F64 => {
            let v = flat.to_vec1::<f64>().map_err(value_error)?;
            numpy::PyArray1::from_vec(py, v)
                .reshape(shape)?
                .into_any()
                .unbind()
        }
        _ => {
            let v = flat
                .to_dtype(DType::F32)
                .and_then(|f| f.to_vec1::<f32>())
                .map_err(value_error)?;
            numpy::PyArray1::from_vec(py, v)
                .reshape(shape)?
                .into_any()
                .unbind()
        }
    };
    Ok(array)
}
