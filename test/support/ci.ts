/**
 * Whether this run is CI's (.ci/run exports CI=true): there a missing tool fails its test
 * rather than skipping it. One reading for every test, so `CI=false` means not CI everywhere.
 */
export const onCi = process.env.CI === 'true';
