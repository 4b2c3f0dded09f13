import { defineConfig } from 'drizzle-kit';

// `npx drizzle-kit generate --config db/drizzle.config.ts` (from the repo root) writes a new
// migration when schema.ts changes. Migrations are frozen once committed: never edit an old one.
export default defineConfig({
  dialect: 'postgresql',
  schema: './db/src/schema.ts',
  out: './db/migrations',
});
