import { Component } from '@angular/core';
import { RouterLink, RouterOutlet } from '@angular/router';

@Component({
  selector: 'app-root',
  imports: [RouterOutlet, RouterLink],
  template: `
    <nav><a routerLink="/">home</a> <a routerLink="/about">about</a> <a routerLink="/users/7">user 7</a></nav>
    <router-outlet />
  `,
})
export class App {}
