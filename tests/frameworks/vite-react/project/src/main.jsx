import { StrictMode, lazy, Suspense } from 'react'
import { createRoot } from 'react-dom/client'
import { BrowserRouter, Routes, Route, Link, useParams } from 'react-router'
import './style.css'

// Code-split route: its chunk is loaded only when /lazy is visited, so a deep link
// to /lazy proves that dynamic imports resolve from a nested URL.
const LazyPage = lazy(() => import('./LazyPage.jsx'))

function Home() {
  return <p>FIXTURE-vite-react-home</p>
}

function User() {
  const { id } = useParams()
  return <p>FIXTURE-vite-react-user-{id}</p>
}

function NotFound() {
  return <p>FIXTURE-vite-react-notfound</p>
}

createRoot(document.getElementById('root')).render(
  <StrictMode>
    <BrowserRouter>
      <nav>
        <Link to="/">home</Link> <Link to="/users/7">user 7</Link> <Link to="/lazy">lazy</Link>
      </nav>
      <Suspense fallback={<p>loading</p>}>
        <Routes>
          <Route path="/" element={<Home />} />
          <Route path="/users/:id" element={<User />} />
          <Route path="/lazy" element={<LazyPage />} />
          <Route path="*" element={<NotFound />} />
        </Routes>
      </Suspense>
    </BrowserRouter>
  </StrictMode>,
)
