//! The `spin:key-value` host functions on a [`KeyValueState`].
//!
//! When a store cannot be reached (Redis down) the guest gets `error::other` and the instance
//! state records it ([`KeyValueState::take_unavailable`]): if the component then fails, the
//! host answers 503 problem+json instead of its 500 (`server.rs`), and the next request after
//! Redis returns simply reconnects.

use std::collections::BTreeMap;
use std::sync::Arc;

use wasmtime::component::{
    Accessor, FutureReader, HasData, Linker, Resource, ResourceTable, StreamReader,
};

use self::bindings::spin::key_value::key_value::{self, Error};
use super::backend::KvBackend;
use super::error::KvError;

mod bindings {
    wasmtime::component::bindgen!({
        path: "wit",
        world: "tandem:host/key-value",
        imports: { default: trappable },
        with: {
            "spin:key-value/key-value.store": crate::factors::key_value::host::Store,
        },
    });
}

/// What one instance may open, the stores it has open, and whether one was unreachable.
#[derive(Default)]
pub struct KeyValueState {
    table: ResourceTable,
    stores: Arc<BTreeMap<String, Arc<KvBackend>>>,
    unavailable: Option<String>,
}

impl KeyValueState {
    /// State of an instance granted `stores` (label → backend).
    pub fn new(stores: Arc<BTreeMap<String, Arc<KvBackend>>>) -> Self {
        Self {
            table: ResourceTable::new(),
            stores,
            unavailable: None,
        }
    }

    /// The labels the instance may open.
    pub fn labels(&self) -> impl Iterator<Item = &str> {
        self.stores.keys().map(String::as_str)
    }

    /// Why a store this instance used could not be reached since the last call, if one could
    /// not (a failure of the request is then the store's, answered 503 rather than 500).
    pub fn take_unavailable(&mut self) -> Option<String> {
        self.unavailable.take()
    }
}

/// `HasData` marker: the interface projects the store data to its [`KeyValueState`].
struct KeyValue;

impl HasData for KeyValue {
    type Data<'a> = &'a mut KeyValueState;
}

/// Links `spin:key-value`; `get` finds the instance's state in the store data.
pub fn add_to_linker<T: Send + 'static>(
    linker: &mut Linker<T>,
    get: fn(&mut T) -> &mut KeyValueState,
) -> anyhow::Result<()> {
    crate::error::wt(
        key_value::add_to_linker::<T, KeyValue>(linker, get),
        "linking spin:key-value",
    )
}

/// The `store` resource: a handle on one granted backend.
pub struct Store {
    backend: Arc<KvBackend>,
}

fn backend<T>(
    accessor: &Accessor<T, KeyValue>,
    this: &Resource<Store>,
) -> wasmtime::Result<Arc<KvBackend>> {
    accessor.with(|mut access| Ok(Arc::clone(&access.get().table.get(this)?.backend)))
}

impl key_value::Host for KeyValueState {}

impl key_value::HostStore for KeyValueState {
    fn drop(&mut self, rep: Resource<Store>) -> wasmtime::Result<()> {
        self.table.delete(rep)?;
        Ok(())
    }
}

/// Hands an operation's result to the guest, marking the request when the store is unavailable.
fn to_guest<T, R>(
    accessor: &Accessor<T, KeyValue>,
    result: Result<R, KvError>,
) -> Result<R, Error> {
    result.map_err(|e| {
        if let KvError::Unavailable(m) = &e {
            accessor.with(|mut access| access.get().unavailable = Some(m.clone()));
        }
        Error::Other(e.message().to_string())
    })
}

impl<T> key_value::HostStoreWithStore<T> for KeyValue {
    async fn open(
        accessor: &Accessor<T, Self>,
        label: String,
    ) -> wasmtime::Result<Result<Resource<Store>, Error>> {
        accessor.with(|mut access| {
            let state = access.get();
            // Spin answers `access-denied` for a label the manifest does not grant.
            let Some(backend) = state.stores.get(&label) else {
                return Ok(Err(Error::AccessDenied));
            };
            let store = Store {
                backend: Arc::clone(backend),
            };
            Ok(Ok(state.table.push(store)?))
        })
    }

    async fn get(
        accessor: &Accessor<T, Self>,
        this: Resource<Store>,
        key: String,
    ) -> wasmtime::Result<Result<Option<Vec<u8>>, Error>> {
        let result = backend(accessor, &this)?.get(key).await;
        Ok(to_guest(accessor, result))
    }

    async fn set(
        accessor: &Accessor<T, Self>,
        this: Resource<Store>,
        key: String,
        value: Vec<u8>,
    ) -> wasmtime::Result<Result<(), Error>> {
        let result = backend(accessor, &this)?.set(key, value).await;
        Ok(to_guest(accessor, result))
    }

    async fn delete(
        accessor: &Accessor<T, Self>,
        this: Resource<Store>,
        key: String,
    ) -> wasmtime::Result<Result<(), Error>> {
        let result = backend(accessor, &this)?.delete(key).await;
        Ok(to_guest(accessor, result))
    }

    async fn exists(
        accessor: &Accessor<T, Self>,
        this: Resource<Store>,
        key: String,
    ) -> wasmtime::Result<Result<bool, Error>> {
        let result = backend(accessor, &this)?.exists(key).await;
        Ok(to_guest(accessor, result))
    }

    async fn get_keys(
        accessor: &Accessor<T, Self>,
        this: Resource<Store>,
    ) -> wasmtime::Result<(StreamReader<String>, FutureReader<Result<(), Error>>)> {
        let keys = backend(accessor, &this)?.keys().await;
        let (keys, result) = match to_guest(accessor, keys) {
            Ok(keys) => (keys, Ok(())),
            Err(e) => (Vec::new(), Err(e)),
        };
        accessor.with(|mut access| {
            let keys = StreamReader::new(&mut access, keys)?;
            let done = FutureReader::new(&mut access, async move {
                wasmtime::Result::<Result<(), Error>>::Ok(result)
            })?;
            Ok((keys, done))
        })
    }
}
