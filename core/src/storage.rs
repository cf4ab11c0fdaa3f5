//! The durable side of the driver.

/// A write to stable storage failed. The driver stops the node: a node must never send
/// a message that depends on a write it cannot prove durable.
#[derive(Debug, thiserror::Error)]
#[error("storage failed: {source}")]
pub struct StorageError {
    /// The underlying error.
    #[source]
    pub source: Box<dyn std::error::Error + Send + Sync>,
}

impl StorageError {
    /// Wrap any error.
    pub fn new(source: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        StorageError {
            source: source.into(),
        }
    }
}

impl From<std::io::Error> for StorageError {
    fn from(e: std::io::Error) -> Self {
        StorageError::new(e)
    }
}

/// Where a node's [`Persist`](crate::Node::Persist) data goes. Each protocol crate
/// defines what its persist records are and ships an in-memory implementation;
/// applications implement it over files or a database.
///
/// The split between [`append`](Storage::append) and [`sync`](Storage::sync) is what
/// lets writes overlap with sends: the driver appends a background write at once and
/// syncs (and acknowledges) after the step's sends have gone out. A barrier write is
/// an append followed immediately by a sync.
#[async_trait::async_trait]
pub trait Storage<P>: Send {
    /// Stage `data` for writing, in order after everything appended before it.
    async fn append(&mut self, data: P) -> Result<(), StorageError>;
    /// Make everything appended so far durable (`fsync`).
    async fn sync(&mut self) -> Result<(), StorageError>;
}
