/**
 * The default REPLAY_SHARDS, from docs/capacity.md: a storage account's target (20,000
 * entities/s) over a partition's (2,000 entities/s) is 10, rounded up to a power of two, so
 * that a deployment's replay inserts reach the account's limit before any one shard reaches
 * its partition's, with room for uneven hashing and bursts. (On Azurite, which has no
 * partition limit, one shard is fastest: fewer, larger group commits.)
 */
export const defaultReplayShards = 16;
export const maxReplayShards = 256;
