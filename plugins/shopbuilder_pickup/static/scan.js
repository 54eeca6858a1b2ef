// Scan a pickup QR code with the phone's camera and submit it to the verify form.
// Uses the vendored jsQR decoder (static/jsqr/jsQR.js); nothing is loaded from elsewhere.
(function () {
  var button = document.getElementById('scan-start');
  if (!button) { return; }
  var video = document.getElementById('scan-video');
  var canvas = document.createElement('canvas');
  var form = document.getElementById('verify-form');
  var status = document.getElementById('scan-status');
  var stream = null;

  function stop() {
    if (stream) { stream.getTracks().forEach(function (t) { t.stop(); }); stream = null; }
    video.hidden = true;
  }

  function frame() {
    if (!stream) { return; }
    if (video.readyState === video.HAVE_ENOUGH_DATA) {
      canvas.width = video.videoWidth; canvas.height = video.videoHeight;
      var ctx = canvas.getContext('2d');
      ctx.drawImage(video, 0, 0, canvas.width, canvas.height);
      var image = ctx.getImageData(0, 0, canvas.width, canvas.height);
      var found = window.jsQR(image.data, image.width, image.height, {inversionAttempts: 'dontInvert'});
      if (found && found.data) {
        stop();
        form.elements.code.value = found.data;
        form.submit();
        return;
      }
    }
    window.requestAnimationFrame(frame);
  }

  button.addEventListener('click', function () {
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
      status.textContent = button.dataset.nocamera; return;
    }
    navigator.mediaDevices.getUserMedia({video: {facingMode: 'environment'}}).then(function (s) {
      stream = s; video.srcObject = s; video.hidden = false;
      video.setAttribute('playsinline', 'true'); video.play();
      window.requestAnimationFrame(frame);
    }).catch(function () { status.textContent = button.dataset.nocamera; });
  });
})();
