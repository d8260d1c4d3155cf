-- Text is now matched with a final sigma as σ and ß as ss (src/domain/party-keys.ts, foldCaseAndAccents):
-- the party keys and search words of rows written before are folded again by the module's own rule, in
-- TypeScript, right after this file (projections/migrate.ts).
SELECT 1;
