import { Component } from '@angular/core';

// Lazy-loaded (a separate chunk-<HASH>.js), so a deep link proves chunks load from nested URLs.
@Component({ selector: 'app-about', template: `<p>FIXTURE-angular-about</p>` })
export default class About {}
