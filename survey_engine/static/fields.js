/* fields.js: what a browser may add to two question types, loaded only on pages that
   have them. The typed fields work without it; this only fills them in.
   - geopoint: "Use my location" asks the Geolocation API once and types latitude,
     longitude and accuracy into the fields (the citizen can still correct them).
   - barcode: "Scan with the camera" where the BarcodeDetector API exists; the code
     read is typed into the text field.
   Plain ES2017, no framework; each button stays hidden where its API is missing. */
(function () {
  'use strict';
  const put = (input, value) => {
    input.value = value;
    input.dispatchEvent(new Event('input', { bubbles: true }));
    input.dispatchEvent(new Event('change', { bubbles: true }));
  };
  const say = (id, text) => { const s = document.getElementById(id); if (s) s.textContent = text; };

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
