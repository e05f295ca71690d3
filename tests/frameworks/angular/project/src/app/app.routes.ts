import { Routes } from '@angular/router';
import { Home, NotFound, User } from './pages';

export const routes: Routes = [
  { path: '', component: Home },
  { path: 'about', loadComponent: () => import('./about') },
  { path: 'users/:id', component: User },
  { path: '**', component: NotFound },
];
