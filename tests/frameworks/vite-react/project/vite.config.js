import { defineConfig } from 'vite'
import react from '@vitejs/plugin-react'

// Defaults on purpose (base '/', outDir 'dist', assetsDir 'assets', appType 'spa').
// manifest: true writes dist/.vite/manifest.json, which lists every hashed file
// (issue 21, defect 4: "the build's own manifest lists it").
export default defineConfig({
  plugins: [react()],
  build: { manifest: true, sourcemap: false },
})
