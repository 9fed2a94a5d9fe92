// Runs the MetadataStore contract against MemoryStore.

import { MemoryStore } from "./memory-store.js";
import { runMetadataStoreContract } from "./metadata-store.contract.js";

// No reopen: the memory store promises nothing beyond its own lifetime, so the durability test skips.
runMetadataStoreContract("MemoryStore", async () => ({ store: new MemoryStore(), cleanup: async () => {} }));
