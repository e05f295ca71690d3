import { Component, inject } from '@angular/core';
import { ActivatedRoute } from '@angular/router';
import { toSignal } from '@angular/core/rxjs-interop';
import { map } from 'rxjs';

@Component({ selector: 'app-home', template: `<p>FIXTURE-angular-home</p>` })
export class Home {}

@Component({ selector: 'app-user', template: `<p>FIXTURE-angular-user-{{ id() }}</p>` })
export class User {
  protected readonly id = toSignal(inject(ActivatedRoute).paramMap.pipe(map((p) => p.get('id'))));
}

@Component({ selector: 'app-not-found', template: `<p>FIXTURE-angular-notfound</p>` })
export class NotFound {}
