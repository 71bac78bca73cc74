/* fields.js: what a browser may add to two question types, loaded only on pages that
   have them. The typed fields work without it; this only fills them in.
   - geopoint: "Use my location" asks the Geolocation API once and types latitude,
     longitude and accuracy into the fields (the citizen can still correct them).
   - barcode: "Scan with the camera" where the BarcodeDetector API exists; the code
     read is typed into the text field.
   - image/audio/video/file: a chosen file is sent at once to the upload route, with
     its progress shown (slow mobile data), and only its token goes with the answers:
     the file input loses its name, so neither survey.js nor the form sends the file.
     Submitting waits until every file is in. Runs before survey.js for that reason.
   Plain ES2017, no framework; each button stays hidden where its API is missing. */
(function () {
  'use strict';
  const put = (input, value) => {
    input.value = value;
    input.dispatchEvent(new Event('input', { bubbles: true }));
    input.dispatchEvent(new Event('change', { bubbles: true }));
  };
  const say = (id, text) => { const s = document.getElementById(id); if (s) s.textContent = text; };

  const form = document.querySelector('form.survey-form');
  let pending = 0;
  if (form && window.XMLHttpRequest && window.FormData) {
    for (const input of form.querySelectorAll('input[type=file][data-upload]')) {
      const n = input.name, token = form.querySelector('input[data-token-for="' + n + '"]');
      const status = 'q-' + n + '-upload', d = input.dataset;
      if (!token) continue;
      input.removeAttribute('name');  // the token is the answer; the file goes on its own
      input.addEventListener('change', () => {
        const file = input.files && input.files[0];
        if (!file) return;
        if (file.size > +d.maxBytes) { input.value = ''; return say(status, d.tooLarge); }
        const body = new FormData(), xhr = new XMLHttpRequest();
        body.append('question', n);
        body.append('file', file);
        pending++;
        say(status, d.sending);
        xhr.upload.onprogress = e => { if (e.lengthComputable) say(status, d.sending + ' ' + Math.floor(100 * e.loaded / e.total) + '%'); };
        xhr.onloadend = () => {
          pending--;
          let reply = null;
          try { reply = JSON.parse(xhr.responseText); } catch (e) { reply = null; }
          if (xhr.status === 201 && reply && reply.token) {
            put(token, reply.token);
            say(status, d.done);
          } else {
            input.value = '';
            say(status, reply && reply.error ? reply.error : d.failed);
          }
        };
        xhr.open('POST', d.upload);
        xhr.setRequestHeader('Accept', 'application/json');
        xhr.send(body);
      });
    }
    // Before survey.js's own handler (this script runs first): no sending half a file.
    form.addEventListener('submit', e => {
      if (!pending) return;
      e.preventDefault();
      e.stopImmediatePropagation();
      const busy = form.querySelector('input[data-upload]');
      if (busy) say('form-status', busy.dataset.sending);
    });
  }

  if (navigator.geolocation) {
    for (const button of document.querySelectorAll('button.geo-locate')) {
      const n = button.dataset.for, status = 'q-' + n + '-geo';
      button.hidden = false;
      button.addEventListener('click', () => {
        button.disabled = true;
        say(status, '…');
        navigator.geolocation.getCurrentPosition(p => {
          const c = p.coords;
          put(document.getElementById('f-' + n + '-lat'), c.latitude.toFixed(7));
          put(document.getElementById('f-' + n + '-lon'), c.longitude.toFixed(7));
          put(document.getElementById('f-' + n + '-acc'), isFinite(c.accuracy) ? String(Math.round(c.accuracy * 10) / 10) : '');
          say(status, c.latitude.toFixed(5) + ', ' + c.longitude.toFixed(5));
          button.disabled = false;
        }, () => { say(status, button.dataset.error); button.disabled = false; },
        { enableHighAccuracy: true, timeout: 20000, maximumAge: 60000 });
      });
    }
  }

  if ('BarcodeDetector' in window && navigator.mediaDevices && navigator.mediaDevices.getUserMedia) {
    for (const button of document.querySelectorAll('button.barcode-scan')) {
      const input = document.getElementById(button.dataset.for);
      button.hidden = false;
      button.addEventListener('click', async () => {
        button.disabled = true;
        let stream = null;
        const video = document.createElement('video');
        video.setAttribute('playsinline', '');
        video.className = 'barcode-video';
        try {
          const detector = new window.BarcodeDetector();
          stream = await navigator.mediaDevices.getUserMedia({ video: { facingMode: 'environment' } });
          video.srcObject = stream;
          button.after(video);
          await video.play();
          const until = Date.now() + 30000;  // half a minute, then the typed field
          let code = null;
          while (!code && Date.now() < until) {
            const found = await detector.detect(video);
            if (found.length) code = found[0].rawValue;
            else await new Promise(r => setTimeout(r, 250));
          }
          if (code) put(input, code);
          say(input.id + '-scan', code ? '' : button.dataset.error);
        } catch (e) {
          say(input.id + '-scan', button.dataset.error);
        } finally {
          if (stream) stream.getTracks().forEach(t => t.stop());
          video.remove();
          button.disabled = false;
        }
      });
    }
  }
})();
